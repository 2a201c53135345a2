/**
 * Deletions phase of an import chunk: the storage's deletion mode applied to objects that
 * disappeared from an ordered range and to rows an object lost. "remove" deletes the tasks (and
 * their annotations), "flag" sets `object_exists=false` (and marks the link of a gone object).
 */
import type { Db } from '../../db/repo-common';
import type { SyncDeletions } from '../../db/repo-jobs';
import { taskIdOfRow, type LinkItem } from '../../db/repo-links';
import { deleteTask, getTasks, updateTask } from '../../db/repo-tasks';
import { mapLimit } from '../../storage/common';
import type { StaleRows } from './build-items';
import { touch, type ImportChunkContext, type StepLink } from './types';

/** Applies `mode` to `rows` of `link`: how many tasks were removed or newly flagged. */
export async function applyDeletion(
  deps: { db: Db; settings: { writeConcurrency: number } },
  link: LinkItem,
  rows: number[],
  mode: SyncDeletions,
): Promise<{ removed: number; flagged: number }> {
  if (mode === 'keep' || !rows.length) return { removed: 0, flagged: 0 };
  const ids = rows.map((r) => taskIdOfRow(link, r)).filter((x): x is number => x !== undefined);
  const tasks = await getTasks(deps.db, ids);
  let removed = 0;
  let flagged = 0;
  await mapLimit([...tasks.values()], deps.settings.writeConcurrency, async (t) => {
    if (mode === 'remove') {
      await deleteTask(deps.db, t);
      removed++;
    } else if (t.object_exists !== false) {
      if (await updateTask(deps.db, t.id, { object_exists: false })) flagged++;
    }
  });
  return { removed, flagged };
}

/** Every live row of a link: not absent, not deleted by a user. */
export function liveRows(l: LinkItem): number[] {
  const out: number[] = [];
  const absent = new Set(l.absent ?? []);
  for (let pos = 0; pos < l.rows; pos++) if (!absent.has(pos) && !l.tomb?.has(l.single ? -1 : pos)) out.push(pos);
  return out;
}

/**
 * Applies the deletion mode to the chunk's gone objects (one after another) and stale rows.
 * Returns the counts and, with "flag", the gone objects' links marked `object_exists: false`.
 */
export async function applyChunkDeletions(
  deps: { db: Db; settings: { writeConcurrency: number } },
  gone: StepLink[],
  stale: StaleRows[],
  ctx: Pick<ImportChunkContext, 'jobId' | 'n' | 'deletions'>,
  now: string,
): Promise<{ removed: number; flagged: number; goneLinks: StepLink[] }> {
  const out = { removed: 0, flagged: 0, goneLinks: [] as StepLink[] };
  for (const l of gone) {
    const res = await applyDeletion(deps, l, liveRows(l), ctx.deletions);
    out.removed += res.removed;
    out.flagged += res.flagged;
    if (ctx.deletions === 'flag') out.goneLinks.push(touch(l, ctx, { object_exists: false, updated_at: now }));
  }
  for (const s of stale) {
    const res = await applyDeletion(deps, s.link, s.rows, ctx.deletions);
    out.removed += res.removed;
    out.flagged += res.flagged;
  }
  return out;
}
