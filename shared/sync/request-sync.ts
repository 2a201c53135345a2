/**
 * `POST /api/storages/{type}/{id}/sync` (and the export variant): queue a sync job and start its
 * execution, answering at once with the storage in `queued`.
 *
 * - synchronizable=false → NotSynchronizableError (400 `{"message": ...}`);
 * - already queued or in progress → that storage as it is, nothing started (unless that job is
 *   dead: no sign of life for STALE_SYNC_MS, then it is replaced);
 * - the connection is validated first (StorageError/ValidationError → 400);
 * - queueing is one conditional update on the status, so of two concurrent requests exactly one
 *   queues a job and starts its execution (named `<storageId>-<jobId>`, so a retried start cannot
 *   run twice); the other answers with the winner's job.
 * On queue (as Label Studio does, plus resetting traceback): last_sync, last_sync_count and traceback become
 * null and meta becomes `{attempts: n+1, time_queued}`.
 */
import { randomUUID } from 'node:crypto';
import { NotFoundError, NotSynchronizableError } from '../errors';
import type { StorageItem, SyncStatus } from '../db/items';
import type { Db } from '../db/repo-common';
import { getStorage } from '../db/repo-storages';
import { pyTime, updateStorageStatus } from '../db/repo-storage-sync-state';
import type { StorageConfig, StorageProvider } from '../storage/types';
import { executionNameOf, type SyncStarter } from './starter';

export interface RequestSyncDeps {
  db: Db;
  storageConfig(storage: StorageItem): Promise<StorageConfig>;
  /** A provider for the connection check (uncached: the stored config may just have changed; closed after). */
  getProvider(config: StorageConfig, storageId: number): Promise<StorageProvider>;
  starter: SyncStarter;
}

const FINAL: SyncStatus[] = ['initialized', 'completed', 'completed_with_errors', 'failed'];

/**
 * A queued or running job that has not pinged for this long is considered dead (an aborted
 * execution, a killed local process): a new sync request replaces it instead of returning it, so a
 * storage can never stay stuck. Running jobs ping every few seconds while chunks are written and no
 * step runs longer than 5 minutes, so 15 minutes of silence is not a slow job.
 */
export const STALE_SYNC_MS = 15 * 60 * 1000;

/** True when the storage's queued/in-progress job has shown no sign of life for STALE_SYNC_MS. */
export function isStaleSync(s: Pick<StorageItem, 'status' | 'meta'>, now = Date.now()): boolean {
  if (s.status !== 'queued' && s.status !== 'in_progress') return false;
  const meta = (s.meta ?? {}) as Record<string, unknown>;
  const times = ['time_last_ping', 'time_in_progress', 'time_queued']
    .map((k) => (typeof meta[k] === 'string' ? Date.parse((meta[k] as string).replace(' ', 'T')) : NaN))
    .filter((t) => Number.isFinite(t));
  return times.length > 0 && now - Math.max(...times) > STALE_SYNC_MS;
}

/**
 * Queues and starts a sync of the storage; returns the storage after queueing (or the already
 * running one).
 * `storage` must already be the caller's (organization, type and role checked by the API layer).
 * @throws NotFoundError when it was deleted meanwhile; NotSynchronizableError; StorageError / ValidationError when the connection check fails;
 *         the starter's error when the execution could not be started (the storage is then failed)
 */
export async function requestSync(deps: RequestSyncDeps, storage: StorageItem): Promise<StorageItem> {
  return (await queueSync(deps, storage)).storage;
}

/**
 * `requestSync` that also says whether this call queued the job (`queued: false`: a sync was
 * already queued or running, or a concurrent request queued first).
 * @throws as requestSync
 */
export async function queueSync(deps: RequestSyncDeps, storage: StorageItem): Promise<{ storage: StorageItem; queued: boolean }> {
  // Re-read strongly consistent: the caller's copy may predate a concurrent queueing.
  const s = await getStorage(deps.db, storage.id, { consistent: true });
  if (!s) throw new NotFoundError('Storage not found.');
  const role = s.role;
  if (s.synchronizable === false) throw new NotSynchronizableError(`Storage ${s.id} is not synchronizable`);
  const stale = isStaleSync(s);
  if ((s.status === 'queued' || s.status === 'in_progress') && !stale) return { storage: s, queued: false };

  const config = await deps.storageConfig(s);
  const provider = await deps.getProvider(config, s.id);
  try {
    await provider.validate(role);
  } finally {
    await provider.close().catch(() => undefined);
  }

  const jobId = randomUUID();
  const attempts = Number((s.meta as { attempts?: unknown } | undefined)?.attempts ?? 0) + 1;
  const queued = await updateStorageStatus(
    deps.db,
    s.id,
    {
      status: 'queued',
      last_sync: null,
      last_sync_count: null,
      last_sync_job: jobId,
      traceback: null,
      meta: { attempts: Number.isFinite(attempts) ? attempts : 1, time_queued: pyTime(new Date()) },
    },
    // A dead job is replaced only by the request that saw it (its job id), so two concurrent
    // requests still queue one job; the old execution, if it ever wakes, finds it is not current.
    stale ? (s.last_sync_job ? { jobId: s.last_sync_job } : { statusIn: [s.status] }) : { statusIn: FINAL },
  );
  if (!queued) {
    // Another request queued a job first (or the storage was deleted meanwhile).
    const current = await getStorage(deps.db, s.id, { consistent: true });
    if (!current) throw new NotFoundError('Storage not found.');
    return { storage: current, queued: false };
  }
  try {
    await deps.starter.start({ storageId: s.id, jobId, role }, executionNameOf({ storageId: s.id, jobId }));
  } catch (e) {
    await updateStorageStatus(
      deps.db,
      s.id,
      { status: 'failed', traceback: 'The sync job could not be started; try again.', meta: { ...queued.meta, time_failure: pyTime(new Date()) } },
      { jobId },
    );
    throw e;
  }
  return { storage: queued, queued: true };
}
