/**
 * Build phase of an import chunk (pure): each object's rows become new task and annotation items
 * (through the one item factory, shared/db/task-factory.ts), in-place updates of the tasks its
 * link already has, the object's new link, and the rows it no longer has.
 */
import type { AnnotationItem, TaskItem } from '../../db/items';
import type { ChunkPlan } from '../../db/repo-chunks';
import { taskIdOfRow } from '../../db/repo-links';
import { newTaskItems, type AnnotationFields } from '../../db/task-factory';
import type { ParsedTask } from '../parse-tasks';
import type { ImportChunkContext, StepLink, SyncFailure, Work } from './types';

/** An in-place update of a synced task's data (its annotations and id stay). */
export interface TaskUpdate {
  id: number;
  data: Record<string, unknown>;
  source: NonNullable<TaskItem['source']>;
  /** The task was flagged `object_exists=false`: the object is back. */
  unflag: boolean;
  /** Counted as updated (JSON mode; blob mode only rewrites to unflag). */
  counted: boolean;
}

/** Rows of a link whose deletion mode applies: the object lost them. */
export interface StaleRows {
  link: StepLink;
  rows: number[];
}

export interface Built {
  /** New tasks, each followed by its annotations. */
  items: (TaskItem | AnnotationItem)[];
  updates: TaskUpdate[];
  links: StepLink[];
  stale: StaleRows[];
  failures: SyncFailure[];
  created: number;
  updated: number;
  /** Annotations created, and how many of them are not cancelled. */
  annotations: number;
  labeled: number;
  predictions: number;
}

/** Stored fields of an annotation found in a task file (no author: it was not made here). */
export function fileAnnotationFields(a: Record<string, unknown>): AnnotationFields {
  return {
    result: Array.isArray(a.result) ? a.result : [],
    completed_by: null,
    ground_truth: a.ground_truth === true,
    lead_time: typeof a.lead_time === 'number' ? a.lead_time : null,
    was_cancelled: a.was_cancelled === true,
    import_id: typeof a.id === 'number' ? a.id : null,
  };
}

/** Builds the writes of every object of `work` with the ids of `plan`. */
export function buildItems(work: Work[], plan: ChunkPlan, ctx: ImportChunkContext, now: string): Built {
  const out: Built = { items: [], updates: [], links: [], stale: [], failures: [], created: 0, updated: 0, annotations: 0, labeled: 0, predictions: 0 };
  for (const w of work) buildObject(w, plan.objects[w.e.k], ctx, now, out);
  return out;
}

/** True when the user deleted the task of this row (a one-object file's row is -1 or 0). */
function isTombed(tomb: Set<number>, rowIndex: number | null): boolean {
  return tomb.has(rowIndex ?? -1) || (rowIndex === null && tomb.has(0)) || (rowIndex === 0 && tomb.has(-1));
}

function buildObject(w: Work, p: ChunkPlan['objects'][string] | undefined, ctx: ImportChunkContext, now: string, out: Built): void {
  const link = w.link;
  const tomb = link?.tomb ?? new Set<number>();
  const oldRows = link?.rows ?? 0;
  const absent = new Set<number>(link?.absent ?? []);
  const nowAbsent: number[] = [];
  const fail = (reason: string) => out.failures.push({ key: w.e.k, reason });
  let nextNew = 0;
  let nextAnn = p ? p[2] : 0;
  let created = 0;
  let updated = 0;
  const ranges: [number, number][] = link ? [...link.idRanges] : [];
  const single = w.rows.length === 1 && w.rows[0].row_index === null;
  for (let pos = 0; pos < w.rows.length; pos++) {
    const row = w.rows[pos];
    const rowIndex = row.row_index ?? (single ? null : pos);
    const isNew = pos >= oldRows || absent.has(pos);
    if (isTombed(tomb, rowIndex)) continue;
    if (row.error || !row.task) {
      fail(row.error ?? 'invalid row');
      if (isNew) nowAbsent.push(pos);
      continue;
    }
    const source = { storageId: ctx.storageId, key: w.e.k, row_index: rowIndex };
    if (!isNew) {
      // A row the object lost and regained may be flagged on its own task (its link is not).
      const unflag = link?.object_exists === false || (!ctx.blob && ctx.deletions !== 'keep');
      if (!ctx.blob || link?.object_exists === false) out.updates.push({ id: taskIdOfRow(link!, pos)!, data: row.task.data, source, unflag, counted: !ctx.blob });
      if (!ctx.blob) updated++;
      continue;
    }
    // New row: its id is the link's (an absent row) or the next one of the plan.
    let id: number | undefined = pos < oldRows ? taskIdOfRow(link!, pos) : undefined;
    if (id === undefined) {
      if (!p || nextNew >= p[1]) {
        fail(`row ${pos}: the object changed while it was being synced; it is imported on the next sync`);
        nowAbsent.push(pos);
        continue;
      }
      id = p[0] + nextNew++;
    }
    const built = newRowItems(row.task, id, nextAnn, source, ctx, now);
    nextAnn += built.annotations.length;
    out.items.push(built.task, ...built.annotations);
    out.labeled += built.labeled;
    out.predictions += built.task.total_predictions;
    out.annotations += built.annotations.length;
    created++;
  }
  if (nextNew) ranges.push([p![0], nextNew]);
  // Rows the object no longer has: deletions apply to them as to a deleted object.
  const stale: number[] = [];
  if (link && w.rows.length < oldRows && ctx.deletions !== 'keep') {
    for (let pos = w.rows.length; pos < oldRows; pos++) if (!absent.has(pos) && !tomb.has(pos)) stale.push(pos);
    if (stale.length) out.stale.push({ link, rows: stale });
  }
  out.created += created;
  out.updated += updated;
  const absentNow = new Set<number>([...[...absent].filter((r) => r >= w.rows.length), ...nowAbsent]);
  if (link && ctx.deletions === 'remove') stale.forEach((r) => absentNow.add(r));
  out.links.push(objectLink(w, ctx, now, { single, rows: Math.max(oldRows, w.rows.length), ranges, absentNow, nowAbsent, created, updated }));
}

/** The new link of a written object: its version, ids, absent and failed rows, and what this attempt did. */
function objectLink(
  w: Work,
  ctx: ImportChunkContext,
  now: string,
  o: { single: boolean; rows: number; ranges: [number, number][]; absentNow: Set<number>; nowAbsent: number[]; created: number; updated: number },
): StepLink {
  return {
    kind: 'link',
    storageId: ctx.storageId,
    key: w.e.k,
    ...(w.e.e !== undefined ? { etag: w.e.e } : {}),
    ...(w.e.s !== undefined ? { size: w.e.s } : {}),
    ...(w.e.m !== undefined ? { mtime: w.e.m } : {}),
    ...(w.hash ? { hash: w.hash } : {}),
    single: o.single,
    rows: o.rows,
    idRanges: o.ranges,
    ...(o.absentNow.size ? { absent: [...o.absentNow].sort((a, b) => a - b) } : {}),
    ...(o.nowAbsent.length ? { failed: o.nowAbsent.length } : {}),
    ...(w.link?.tomb?.size ? { tomb: w.link.tomb } : {}),
    jobId: ctx.jobId,
    chunk: ctx.n,
    createdRows: o.created,
    updatedRows: o.updated,
    updated_at: now,
  };
}

function newRowItems(task: ParsedTask, id: number, firstAnnotationId: number, source: NonNullable<TaskItem['source']>, ctx: ImportChunkContext, now: string) {
  const preds = task.predictions ?? [];
  return newTaskItems({
    id,
    projectId: ctx.projectId,
    orgId: ctx.orgId,
    data: task.data,
    predictions: preds.length ? preds : undefined,
    allow_skip: task.allow_skip,
    source,
    annotations: (task.annotations ?? []).map(fileAnnotationFields),
    firstAnnotationId,
    now,
  });
}
