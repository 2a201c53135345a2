/**
 * Live counters of a target storage, moved by the stream export (and the replay of recorded
 * failures): what each batch wrote, removed and failed to deliver, added to the storage's `meta`
 * so the console and `GET /api/storages/export/{type}/{id}` show exports as they happen, without
 * an export sync. `last_sync` and `last_sync_count` stay the last export sync's (Label Studio's
 * meaning: the result of a sync run); a sync replaces `meta` whole, so these counters count from
 * the end of the last sync (or from the storage's creation).
 *
 * Counts are at least once: an outcome is counted by the batch that produced it, and a batch
 * retried after its counters were added counts again whatever it redoes (targets at that version
 * already skip and count nothing, but a delete is redone and counted again, and each failed
 * attempt counts). Exact counts would take a transaction per record with the export link.
 */
import type { Db } from '../db/repo-common';
import { retryContention } from '../db/repo-common';
import { pyTime, writeStorageSyncState } from '../db/repo-storage-sync-state';

/** Names of the counters in the storage's `meta` (the export sync's `annotations_*` family). */
export const EXPORT_COUNTER_META = {
  exported: 'annotations_exported_total',
  removed: 'annotations_removed_total',
  failed: 'annotations_failed_total',
  lastExportedAt: 'last_exported_at',
} as const;

/** What one batch did to one target: annotations written, objects removed, deliveries failed. */
export interface TargetCounts {
  exported: number;
  removed: number;
  failed: number;
}

/** Per-target tallies of one batch, flushed as one update per target. */
export class TargetTally {
  private readonly counts = new Map<number, TargetCounts>();

  /** Adds `n` to `what` of storage `storageId`. */
  add(storageId: number, what: keyof TargetCounts, n = 1): void {
    let c = this.counts.get(storageId);
    if (!c) this.counts.set(storageId, (c = { exported: 0, removed: 0, failed: 0 }));
    c[what] += n;
  }

  /** The tallies with something to add. */
  entries(): [number, TargetCounts][] {
    return [...this.counts].filter(([, c]) => c.exported || c.removed || c.failed);
  }
}

/**
 * Adds `counts` to the storage's meta counters in ONE UpdateItem (ADD, atomic), retried with
 * bounded, jittered backoff on throttling and transaction conflicts (`retryContention`), and stamps
 * `meta.last_exported_at` when something was written or removed. Concurrent batches of other
 * shards may stamp an earlier time last (no read-modify-write); the counts are never lost.
 * A deleted storage is left alone.
 * @returns false when the storage is gone or deleted (nothing written)
 * @throws the DynamoDB error when the update still fails after its retries
 */
export async function addTargetCounts(db: Db, storageId: number, counts: TargetCounts, now: Date): Promise<boolean> {
  const metaAdd = { [EXPORT_COUNTER_META.exported]: counts.exported, [EXPORT_COUNTER_META.removed]: counts.removed, [EXPORT_COUNTER_META.failed]: counts.failed };
  const delivered = counts.exported + counts.removed > 0;
  const change = { metaAdd, touch: false, ...(delivered ? { metaEntries: { [EXPORT_COUNTER_META.lastExportedAt]: pyTime(now) } } : {}) };
  return (await retryContention(() => writeStorageSyncState(db, storageId, change))) !== undefined;
}
