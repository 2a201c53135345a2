/**
 * Deletions phase of an import chunk (and of the unordered sweep): the storage's deletion mode
 * applied to objects that disappeared and to rows an object lost. "flag" sets
 * `object_exists=false` (and marks the link of a gone object). "remove" deletes the tasks, except
 * tasks with annotations or predictions: those are flagged like "flag" does and counted apart,
 * unless the storage sets `sync_deletions_remove_annotated` (then they go with their annotations).
 */
import type { StorageItem, TaskItem } from '../../db/items';
import type { Db } from '../../db/repo-common';
import type { SyncDeletions } from '../../db/repo-jobs';
import { taskIdOfRow, type LinkItem } from '../../db/repo-links';
import { deleteTask, deleteTaskIfUnannotated, getTasks, updateTask } from '../../db/repo-tasks';
import { mapLimit } from '../../storage/common';
import type { StaleRows } from './build-items';
import { touch, type ImportChunkContext, type StepLink } from './types';

type DeletionDeps = { db: Db; settings: { writeConcurrency: number } };

/** What a deletion pass did: tasks removed, newly flagged, newly flagged because of their annotations. */
export interface DeletionCounts {
  removed: number;
  flagged: number;
  flaggedAnnotated: number;
}

/** The counts and the ids of the tasks removed (TASKS_DELETED). */
export interface Deletions extends DeletionCounts {
  removedIds: number[];
}

/** The deletions of one link's rows, and the rows whose task "remove" kept (annotated). */
export interface DeletionOutcome extends Deletions {
  kept: number[];
}

const zero = (): Deletions => ({ removed: 0, removedIds: [], flagged: 0, flaggedAnnotated: 0 });

function addDeletions(into: Deletions, d: Deletions): void {
  into.removed += d.removed;
  into.removedIds.push(...d.removedIds);
  into.flagged += d.flagged;
  into.flaggedAnnotated += d.flaggedAnnotated;
}

/** The storage's opt-in to let "remove" delete tasks with annotations or predictions (default false). */
export function removesAnnotated(storage: Pick<StorageItem, 'fields'>): boolean {
  return storage.fields?.sync_deletions_remove_annotated === true;
}

/** Sets `object_exists=false` unless already set; true when this call flagged it. */
async function flag(db: Db, t: TaskItem): Promise<boolean> {
  return t.object_exists !== false && !!(await updateTask(db, t.id, { object_exists: false }));
}

/** Applies `mode` to `rows` of `link`. */
export async function applyDeletion(
  deps: DeletionDeps,
  link: LinkItem,
  rows: number[],
  mode: SyncDeletions,
  removeAnnotated = false,
): Promise<DeletionOutcome> {
  const out: DeletionOutcome = { ...zero(), kept: [] };
  if (mode === 'keep' || !rows.length) return out;
  const rowOf = new Map<number, number>();
  for (const r of rows) {
    const id = taskIdOfRow(link, r);
    if (id !== undefined) rowOf.set(id, r);
  }
  const tasks = await getTasks(deps.db, [...rowOf.keys()]);
  await mapLimit([...tasks.values()], deps.settings.writeConcurrency, async (t) => {
    if (mode === 'flag') {
      if (await flag(deps.db, t)) out.flagged++;
    } else if (removeAnnotated) {
      await deleteTask(deps.db, t);
      out.removed++;
      out.removedIds.push(t.id);
    } else if (await deleteTaskIfUnannotated(deps.db, t)) {
      out.removed++;
      out.removedIds.push(t.id);
    } else {
      // Annotated (maybe since it was read): labelling work outweighs a tidied bucket.
      out.kept.push(rowOf.get(t.id)!);
      if (await flag(deps.db, t)) out.flaggedAnnotated++;
    }
  });
  return out;
}

/** Every live row of a link: not absent, not deleted by a user. */
export function liveRows(l: LinkItem): number[] {
  const out: number[] = [];
  const absent = new Set(l.absent ?? []);
  for (let pos = 0; pos < l.rows; pos++) if (!absent.has(pos) && !isTombed(l, pos)) out.push(pos);
  return out;
}

const isTombed = (l: LinkItem, pos: number) => !!l.tomb?.has(l.single ? -1 : pos);

/**
 * The link of a gone object after its deletions, or undefined when it goes. "flag" marks it
 * `object_exists=false`; "remove" keeps it only for tasks it kept, flagged the same way, with
 * every other row absent (so they are not acted on again, and come back as new tasks if the
 * object does).
 */
export function linkAfterDeletion(l: LinkItem, res: DeletionOutcome, mode: SyncDeletions): LinkItem | undefined {
  if (mode === 'flag') return { ...l, object_exists: false };
  if (!res.kept.length) return undefined;
  const kept = new Set(res.kept);
  const absent = new Set(l.absent ?? []);
  for (let pos = 0; pos < l.rows; pos++) if (!kept.has(pos) && !isTombed(l, pos)) absent.add(pos);
  return { ...l, object_exists: false, absent: [...absent].sort((a, b) => a - b) };
}

/**
 * Applies the deletion mode to links of gone objects (one after another): the counts, the links
 * that stay (flagged) and those that go.
 */
export async function applyGoneDeletions(
  deps: DeletionDeps,
  gone: LinkItem[],
  mode: SyncDeletions,
  removeAnnotated: boolean,
): Promise<Deletions & { stay: LinkItem[]; go: LinkItem[] }> {
  const out = { ...zero(), stay: [] as LinkItem[], go: [] as LinkItem[] };
  for (const l of gone) {
    const res = await applyDeletion(deps, l, liveRows(l), mode, removeAnnotated);
    addDeletions(out, res);
    const after = linkAfterDeletion(l, res, mode);
    if (after) out.stay.push(after);
    else out.go.push(l);
  }
  return out;
}

/**
 * Applies the deletion mode to the chunk's gone objects and stale rows. Returns the counts, the
 * gone objects' links that stay (flagged, to write) and those removed. `written` are the chunk's
 * new links: a stale row whose task "remove" kept is live again in its object's link.
 */
export async function applyChunkDeletions(
  deps: DeletionDeps,
  gone: StepLink[],
  stale: StaleRows[],
  written: StepLink[],
  ctx: Pick<ImportChunkContext, 'jobId' | 'n' | 'deletions' | 'removeAnnotated'>,
  now: string,
): Promise<Deletions & { goneLinks: StepLink[]; removedLinks: StepLink[] }> {
  const g = await applyGoneDeletions(deps, gone, ctx.deletions, ctx.removeAnnotated);
  const out = { removed: g.removed, removedIds: g.removedIds, flagged: g.flagged, flaggedAnnotated: g.flaggedAnnotated, removedLinks: g.go, goneLinks: g.stay.map((l) => touch(l, ctx, { updated_at: now })) };
  const next = new Map(written.map((l) => [l.key, l]));
  for (const s of stale) {
    const res = await applyDeletion(deps, s.link, s.rows, ctx.deletions, ctx.removeAnnotated);
    addDeletions(out, res);
    const l = next.get(s.link.key);
    if (!l?.absent || !res.kept.length) continue;
    // The build phase made every lost row absent for "remove"; a kept task's row stays live.
    const kept = new Set(res.kept);
    l.absent = l.absent.filter((r) => !kept.has(r));
    if (!l.absent.length) delete l.absent;
  }
  return out;
}
