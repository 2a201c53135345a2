/**
 * Loads what an exported document is built from (annotation, its task, its project), reading the
 * annotation strongly consistently: a stream record can be stale, the table is the truth. Task
 * and project reads are cached for the loader's lifetime (one batch or one chunk).
 */
import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../db/keys';
import type { AnnotationItem, ProjectItem, TaskItem } from '../db/items';
import type { Db } from '../db/repo-common';
import type { ExportSource } from './content';

const BATCH_GET_MAX = 100;
const BATCH_GET_ATTEMPTS = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per batch/chunk reader of export sources. */
export class ExportSourceLoader {
  private readonly tasks = new Map<number, Promise<TaskItem | undefined>>();
  private readonly projects = new Map<number, Promise<ProjectItem | undefined>>();

  constructor(private readonly db: Db) {}

  /** The annotation as saved now, or undefined when it is deleted (or not an annotation). */
  async annotation(id: number): Promise<AnnotationItem | undefined> {
    const r = await this.db.doc.send(
      new GetCommand({ TableName: this.db.table, Key: keys.annotation(id), ConsistentRead: true }),
    );
    return r.Item?.kind === 'annotation' ? (r.Item as AnnotationItem) : undefined;
  }

  /** The export source of one annotation, or undefined when the annotation or its task is gone. */
  async load(annotationId: number): Promise<ExportSource | undefined> {
    const a = await this.annotation(annotationId);
    return a ? this.complete(a) : undefined;
  }

  /**
   * Export sources of many annotations (BatchGetItem in groups of 100, unprocessed keys retried
   * a bounded number of times). Deleted annotations are simply absent from the result.
   * @throws Error when keys stay unprocessed after the last attempt
   */
  async loadMany(annotationIds: readonly number[]): Promise<Map<number, ExportSource>> {
    const annotations = (await this.batchGet(annotationIds.map((id) => keys.annotation(id)), true)).filter(
      (it): it is AnnotationItem => it.kind === 'annotation',
    );
    const missingTasks = [...new Set(annotations.map((a) => a.taskId))].filter((id) => !this.tasks.has(id));
    if (missingTasks.length) {
      const got = new Map<number, TaskItem>();
      for (const it of await this.batchGet(missingTasks.map((id) => keys.task(id)), false)) {
        if (it.kind === 'task') got.set(Number(it.id), it as TaskItem);
      }
      for (const id of missingTasks) this.tasks.set(id, Promise.resolve(got.get(id)));
    }
    const out = new Map<number, ExportSource>();
    for (const a of annotations) {
      const s = await this.complete(a);
      if (s) out.set(a.id, s);
    }
    return out;
  }

  private async batchGet(itemKeys: Record<string, unknown>[], consistent: boolean): Promise<Record<string, unknown>[]> {
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < itemKeys.length; i += BATCH_GET_MAX) {
      let pending = itemKeys.slice(i, i + BATCH_GET_MAX);
      for (let attempt = 1; pending.length; attempt++) {
        const r = await this.db.doc.send(
          new BatchGetCommand({ RequestItems: { [this.db.table]: { Keys: pending, ConsistentRead: consistent } } }),
        );
        found.push(...(r.Responses?.[this.db.table] ?? []));
        pending = (r.UnprocessedKeys?.[this.db.table]?.Keys ?? []) as Record<string, unknown>[];
        if (!pending.length) break;
        if (attempt >= BATCH_GET_ATTEMPTS) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed`);
        await sleep(Math.min(2_000, 50 * 2 ** attempt));
      }
    }
    return found;
  }

  private async complete(annotation: AnnotationItem): Promise<ExportSource | undefined> {
    const [task, project] = await Promise.all([this.task(annotation.taskId), this.project(annotation.projectId)]);
    if (!task || !project) return undefined;
    return { annotation, task, project };
  }

  private task(id: number): Promise<TaskItem | undefined> {
    let p = this.tasks.get(id);
    if (!p) {
      p = this.db.doc
        .send(new GetCommand({ TableName: this.db.table, Key: keys.task(id) }))
        .then((r) => (r.Item?.kind === 'task' ? (r.Item as TaskItem) : undefined));
      p.catch(() => this.tasks.delete(id));
      this.tasks.set(id, p);
    }
    return p;
  }

  private project(id: number): Promise<ProjectItem | undefined> {
    let p = this.projects.get(id);
    if (!p) {
      p = this.db.doc
        .send(new GetCommand({ TableName: this.db.table, Key: keys.project(id) }))
        .then((r) => (r.Item?.kind === 'project' ? (r.Item as ProjectItem) : undefined));
      p.catch(() => this.projects.delete(id));
      this.projects.set(id, p);
    }
    return p;
  }
}
