/** What event sync takes and returns (shared/sync/object-events/apply-object-events.ts). */

/** One object notification of a storage, backend-neutral. */
export interface ObjectEvent {
  /** Object key as the storage's listing returns it. */
  key: string;
  kind: 'created' | 'removed';
  etag?: string;
  size?: number;
  lastModified?: Date;
  /** The backend's ordering token for the key (S3 `sequencer`, GCS generation): larger is newer. */
  sequencer?: string;
  /** When the backend says the change happened (ISO 8601). */
  eventTime?: string;
}

/** What one call did, per coalesced key (`received` and `coalesced` count events). */
export interface ObjectEventsOutcome {
  /** Events given. */
  received: number;
  /** Events folded into a newer one of the same key in this call. */
  coalesced: number;
  /** Keys outside the storage's selection (prefix, recursive_scan, regex_filter, target-prefix skip) or of a storage that no longer follows events. */
  skipped: number;
  /** Keys whose event was older than the last one applied to them. */
  stale: number;
  /** Keys stored for after the storage's running sync job. */
  deferred: number;
  created: number;
  updated: number;
  unchanged: number;
  removed: number;
  /** Tasks newly flagged `object_exists=false` (sync_deletions "flag", or annotated under "remove"). */
  flagged: number;
  /** Objects that could not be read or parsed, or rows that failed. */
  failed: number;
  /** Ids of the tasks this call created. */
  taskIds: number[];
  /** Secret-free reasons of the failures (at most a few). */
  errors: { key: string; reason: string }[];
}

/** An all-zero outcome. */
export function emptyOutcome(received = 0): ObjectEventsOutcome {
  return { received, coalesced: 0, skipped: 0, stale: 0, deferred: 0, created: 0, updated: 0, unchanged: 0, removed: 0, flagged: 0, failed: 0, taskIds: [], errors: [] };
}

/** Adds `b` into `a` (in place) and returns `a`. */
export function addOutcome(a: ObjectEventsOutcome, b: ObjectEventsOutcome): ObjectEventsOutcome {
  for (const k of ['received', 'coalesced', 'skipped', 'stale', 'deferred', 'created', 'updated', 'unchanged', 'removed', 'flagged', 'failed'] as const) a[k] += b[k];
  a.taskIds.push(...b.taskIds);
  a.errors.push(...b.errors.slice(0, Math.max(0, MAX_ERRORS - a.errors.length)));
  return a;
}

/** Failures an outcome keeps (the counter counts them all). */
export const MAX_ERRORS = 20;
