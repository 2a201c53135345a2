/**
 * Loads what an exported document is built from (annotation, its task, its project) through the
 * repositories, reading the annotation strongly consistently: a stream record can be stale, the
 * table is the truth. Task and project reads are cached for the loader's lifetime (one batch or
 * one chunk).
 */
import { keys } from '../db/keys';
import type { AnnotationItem, ProjectItem, TaskItem } from '../db/items';
import { batchGet, stripKeys, type Db } from '../db/repo-common';
import { getAnnotation } from '../db/repo-annotations';
import { getProject } from '../db/repo-projects';
import { getTasks } from '../db/repo-tasks';
import type { ExportSource } from './content';

/** Per batch/chunk reader of export sources. */
export class ExportSourceLoader {
  private readonly tasks = new Map<number, TaskItem | undefined>();
  private readonly projects = new Map<number, Promise<ProjectItem | undefined>>();

  constructor(private readonly db: Db) {}

  /** The export source of one annotation, or undefined when the annotation or its task is gone. */
  async load(annotationId: number): Promise<ExportSource | undefined> {
    const a = await getAnnotation(this.db, annotationId);
    if (!a) return undefined;
    return (await this.completeMany([a])).get(a.id);
  }

  /**
   * Export sources of many annotations (consistent BatchGetItem in groups of 100, unprocessed
   * keys retried a bounded number of times). Deleted annotations are absent from the result.
   * @throws Error when keys stay unprocessed after the last attempt
   */
  async loadMany(annotationIds: readonly number[]): Promise<Map<number, ExportSource>> {
    const found: AnnotationItem[] = [];
    await batchGet(this.db, annotationIds.map((id) => keys.annotation(id)), (it) => {
      if (it.kind === 'annotation') found.push(stripKeys<AnnotationItem>(it)!);
    }, { consistent: true });
    return this.completeMany(found);
  }

  /** Export sources of annotation items already read (tasks fetched in batches, projects cached). */
  async completeMany(annotations: readonly AnnotationItem[]): Promise<Map<number, ExportSource>> {
    const missing = [...new Set(annotations.map((a) => a.taskId))].filter((id) => !this.tasks.has(id));
    if (missing.length) {
      const got = await getTasks(this.db, missing);
      for (const id of missing) this.tasks.set(id, got.get(id));
    }
    const out = new Map<number, ExportSource>();
    for (const annotation of annotations) {
      const task = this.tasks.get(annotation.taskId);
      const project = await this.project(annotation.projectId);
      if (task && project) out.set(annotation.id, { annotation, task, project });
    }
    return out;
  }


  private project(id: number): Promise<ProjectItem | undefined> {
    let p = this.projects.get(id);
    if (!p) {
      p = getProject(this.db, id);
      p.catch(() => this.projects.delete(id));
      this.projects.set(id, p);
    }
    return p;
  }
}
