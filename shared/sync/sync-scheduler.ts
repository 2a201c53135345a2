/**
 * Where the `sync_schedule` of a storage lives: one schedule per import storage that fires the
 * `scheduledSync` function with `{storageId}`. In AWS it is an EventBridge Scheduler schedule
 * (`eventbridge-scheduler.ts`); `npm start` runs a timer (local/sync-schedule-timer.ts); tests
 * inject a recording double. The storages use case calls it when the field changes and when a
 * storage or its project is deleted.
 */

/** The schedules of storages. Implementations bound every call with a timeout. */
export interface SyncScheduler {
  /**
   * Creates the storage's schedule or replaces its expression (times in UTC).
   * @throws ScheduleError naming the schedule when it could not be saved
   */
  put(storageId: number, expression: string): Promise<void>;
  /**
   * Removes the storage's schedule; a storage without one is no error.
   * @throws ScheduleError naming the schedule when it could not be removed
   */
  remove(storageId: number): Promise<void>;
}

/** Scheduler's limit on schedule names. */
const MAX_NAME_CHARS = 64;

/**
 * The schedule name of a storage: `<prefix>-storage-<id>` (prefix `labelsync-<stack>`), the prefix
 * shortened so the name fits Scheduler's 64 characters of `[0-9a-zA-Z-_.]`.
 */
export function scheduleNameOf(prefix: string, storageId: number): string {
  const tail = `-storage-${storageId}`;
  return prefix.replace(/[^0-9A-Za-z._-]/g, '-').slice(0, MAX_NAME_CHARS - tail.length) + tail;
}

/** The stored `sync_schedule` of a field map: a trimmed expression, or null (off). */
export function syncScheduleOf(fields: Record<string, unknown>): string | null {
  const v = fields.sync_schedule;
  return typeof v === 'string' && v.trim() ? v.trim() : null;
}
