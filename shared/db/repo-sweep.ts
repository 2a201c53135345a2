/**
 * Pending sweeps: one `SWEEP#PROJECT#<id>` / `SWEEP` item per deleted project whose tasks,
 * annotations or import state (links, link pages, tombstones, sync summaries) may remain. It is
 * written in the same transaction that deletes the project item, so a request that runs out of time
 * or crashes midway always leaves one behind; it is deleted once nothing of the project remains.
 *
 * Listed through a sparse gsi1 partition (`PENDING_SWEEP`, sort key = zero-padded project id):
 * only these items carry it, so the sweeper's Query reads nothing else.
 */
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { StorageItem } from './items';
import { keys, pad } from './keys';
import { isTransactionConditionFailure, queryPages, stripKeys, transactWrite, type Db } from './repo-common';
import { ITEM_KINDS } from './schema';

/** gsi1 partition of every pending sweep. */
const PENDING_SWEEP = 'PENDING_SWEEP';

const sweepKey = (projectId: number) => ({ pk: `SWEEP#PROJECT#${projectId}`, sk: 'SWEEP' });

/** What is left to remove of a deleted project. */
export interface ProjectSweep {
  kind: 'sweep';
  projectId: number;
  /** The project's storages at deletion (their items no longer list under the project). */
  storages: { id: number; role: StorageItem['role'] }[];
  /** A storage was queued or syncing at deletion: its step in flight may still write tasks. */
  syncing?: boolean;
  created_at: string;
}

/**
 * Deletes the project item and records its pending sweep, atomically.
 * Returns false when the project was already gone (nothing written).
 */
export async function deleteProjectLeavingSweep(db: Db, sweep: Omit<ProjectSweep, 'kind'>): Promise<boolean> {
  try {
    await transactWrite(db, {
      TransactItems: [
        { Delete: { TableName: db.table, Key: keys.project(sweep.projectId), ConditionExpression: 'attribute_exists(pk)' } },
        {
          Put: {
            TableName: db.table,
            Item: { ...sweepKey(sweep.projectId), gsi1pk: PENDING_SWEEP, gsi1sk: pad(sweep.projectId), ...sweep, kind: ITEM_KINDS.sweep },
          },
        },
      ],
    });
    return true;
  } catch (e) {
    if (isTransactionConditionFailure(e)) return false;
    throw e;
  }
}

/** Up to `limit` pending sweeps, oldest project first. */
export async function listPendingSweeps(db: Db, limit: number): Promise<ProjectSweep[]> {
  const out: ProjectSweep[] = [];
  const input = { IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: { ':pk': PENDING_SWEEP } };
  for await (const page of queryPages(db, input, () => limit - out.length)) {
    for (const it of page.items) out.push(stripKeys<ProjectSweep>(it)!);
    if (out.length >= limit) break;
  }
  return out.slice(0, limit);
}

/** Removes a project's pending sweep (nothing of the project is left). Idempotent. */
export async function clearPendingSweep(db: Db, projectId: number): Promise<void> {
  await db.doc.send(new DeleteCommand({ TableName: db.table, Key: sweepKey(projectId) }));
}
