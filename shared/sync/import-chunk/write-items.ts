/**
 * Write phase of an import chunk: new tasks and annotations in batches, in-place updates of
 * changed tasks (conditional on the task still existing — a deleted task is never recreated).
 */
import type { AnnotationItem, TaskItem } from '../../db/items';
import { annotationToItem } from '../../db/repo-annotations';
import { batchWrite, type Db } from '../../db/repo-common';
import { taskToItem, updateSyncedTaskData } from '../../db/repo-tasks';
import { mapLimit } from '../../storage/common';
import type { TaskUpdate } from './build-items';
import type { StepLink } from './types';

/** Rows whose update found no task (a user deleted it since the last sync), by object key. */
export type LostRows = Map<string, number[]>;

/** Writes the items and updates; returns the lost rows and how many counted updates they were. */
export async function writeItems(
  db: Db,
  items: (TaskItem | AnnotationItem)[],
  updates: TaskUpdate[],
  writeConcurrency: number,
): Promise<{ lost: LostRows; lostCounted: number }> {
  await batchWrite(db, items.map((it) => ({ PutRequest: { Item: it.kind === 'task' ? taskToItem(it) : annotationToItem(it) } })), { concurrency: writeConcurrency });
  const lost: LostRows = new Map();
  let lostCounted = 0;
  await mapLimit(updates, writeConcurrency, async (u) => {
    if (await updateSyncedTaskData(db, u.id, u)) return;
    // Deleted by a user since the last sync: it stays deleted.
    if (u.counted) lostCounted++;
    const rows = lost.get(u.source.key) ?? [];
    rows.push(u.source.row_index ?? -1);
    lost.set(u.source.key, rows);
  });
  return { lost, lostCounted };
}

/** Records lost rows as tombstones of their links (in place; pure otherwise). */
export function tombLostRows(links: StepLink[], lost: LostRows, blob: boolean): void {
  for (const l of links) {
    const rows = lost.get(l.key);
    if (!rows) continue;
    l.tomb = new Set([...(l.tomb ?? []), ...rows]);
    if (!blob) l.updatedRows = (l.updatedRows ?? 0) - rows.length;
  }
}
