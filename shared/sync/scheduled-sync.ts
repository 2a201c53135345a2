/**
 * One run of a storage's `sync_schedule` (the `scheduledSync` function; Scheduler in AWS, the
 * local timer in `npm start`): requests a normal full sync through `queueSync`. A run that finds
 * the storage's sync queued or in progress is skipped and counted — with a write conditional on
 * that very job still running, so a run never queues a second job and never counts a skip for a
 * sync that had just finished. A run for a storage that is gone, no longer an import storage, or
 * no longer scheduled removes its schedule (a delete whose schedule removal failed heals here).
 */
import { NotSynchronizableError, StorageError, ValidationError } from '../errors';
import { getStorage } from '../db/repo-storages';
import { recordScheduledRun } from '../db/repo-scheduled-runs';
import { pyTime } from '../db/repo-storage-sync-state';
import { getLogger } from '../logging';
import { isStaleSync, queueSync, type RequestSyncDeps } from './request-sync';
import { syncScheduleOf, type SyncScheduler } from './sync-scheduler';

export interface ScheduledSyncDeps {
  requestSync: RequestSyncDeps;
  /** Absent where no scheduler is configured (then nothing is removed). */
  scheduler?: SyncScheduler;
  now?: () => Date;
}

/** What a run did: `gone` = the storage has no schedule any more (its schedule was removed). */
export type ScheduledSyncOutcome = 'queued' | 'skipped' | 'failed' | 'gone';

/** The client-facing reason of an expected failure (secret-free), else undefined. */
function expectedFailure(e: unknown): string | undefined {
  if (e instanceof ValidationError) return Object.entries(e.fields).map(([f, m]) => `${f}: ${m.join(' ')}`).join('; ');
  if (e instanceof StorageError || e instanceof NotSynchronizableError) return e.message;
  return undefined;
}

/**
 * Runs the schedule of storage `storageId` once.
 * @throws what queueSync throws other than the storage's own problems (those are counted as
 *         `scheduled_runs_failed` with `last_scheduled_run_error`)
 */
export async function runScheduledSync(deps: ScheduledSyncDeps, storageId: number): Promise<ScheduledSyncOutcome> {
  const db = deps.requestSync.db;
  const at = pyTime((deps.now ?? (() => new Date()))());
  const s = await getStorage(db, storageId, { consistent: true });
  if (!s || s.role !== 'import' || !syncScheduleOf(s.fields)) {
    await deps.scheduler?.remove(storageId).catch((e) => getLogger('scheduledSync').warn('schedule of a storage without one not removed', { storageId, error: e as Error }));
    return 'gone';
  }
  const running = (s.status === 'queued' || s.status === 'in_progress') && !isStaleSync(s);
  if (running && s.last_sync_job && (await recordScheduledRun(db, storageId, 'skipped', { at, whileJob: s.last_sync_job }))) return 'skipped';
  try {
    const { queued } = await queueSync(deps.requestSync, s);
    await recordScheduledRun(db, storageId, queued ? 'queued' : 'skipped', { at });
    return queued ? 'queued' : 'skipped';
  } catch (e) {
    const reason = expectedFailure(e);
    await recordScheduledRun(db, storageId, 'failed', { at, error: reason ?? 'The sync could not be requested; the next run tries again.' });
    if (reason === undefined) throw e;
    return 'failed';
  }
}
