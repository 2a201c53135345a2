/**
 * Keeping a storage's schedule (shared/sync/sync-scheduler.ts) in step with its `sync_schedule`
 * field. The schedule is written before the storage is saved and a failure refuses the save
 * (ScheduleError, 502 naming the schedule), so a stored expression always has its schedule; a
 * save that fails after the schedule changed puts the schedule back as it was.
 */
import type { AppContext } from '../context';
import { ScheduleError } from '../errors';
import { getLogger } from '../logging';
import { syncScheduleOf, type SyncScheduler } from '../sync/sync-scheduler';

function schedulerOf(app: AppContext): SyncScheduler {
  if (!app.syncScheduler) throw new ScheduleError('Scheduled sync is not available in this deployment: no scheduler is configured (sync_schedule must be null).');
  return app.syncScheduler;
}

/** Sets the schedule of `storageId` to `expr` (null: removes it). */
async function apply(app: AppContext, storageId: number, expr: string | null): Promise<void> {
  if (expr) await schedulerOf(app).put(storageId, expr);
  else await app.syncScheduler?.remove(storageId);
}

/**
 * Runs `save` with the storage's schedule changed from the field map `before` to `after` (nothing
 * happens to the schedule when the expression is the same). When `save` throws or returns
 * undefined (nothing saved), the schedule is set back to `before`'s.
 * @throws ScheduleError when the schedule could not be changed (then `save` does not run)
 */
export async function withScheduleChange<T>(
  app: AppContext,
  storageId: number,
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown>,
  save: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const [was, next] = [before ? syncScheduleOf(before) : null, syncScheduleOf(after)];
  if (was === next) return save();
  await apply(app, storageId, next);
  const restore = () =>
    apply(app, storageId, was).catch((e) => getLogger('api').error('sync schedule not restored after a failed save', { storageId, error: e as Error }));
  try {
    const saved = await save();
    if (saved === undefined) await restore();
    return saved;
  } catch (e) {
    await restore();
    throw e;
  }
}

/**
 * Removes the schedule of a storage being deleted (before the delete, so a failure leaves the
 * storage as it was for the caller to retry).
 * @throws ScheduleError when the scheduler failed
 */
export async function removeSchedule(app: AppContext, storageId: number, fields: Record<string, unknown>): Promise<void> {
  if (syncScheduleOf(fields)) await app.syncScheduler?.remove(storageId);
}
