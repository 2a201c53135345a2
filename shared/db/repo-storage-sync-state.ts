/**
 * The sync state of a storage item — `status`, `last_sync`, `last_sync_count`, `last_sync_job`,
 * `traceback`, `meta` — and its one writer, used by sync requests, the sync steps and export
 * targets. The rest of the storage item is repo-storages.ts's.
 */
import { keys } from './keys';
import type { StorageItem, SyncStatus } from './items';
import { UpdateExpression, updateReturning, type Db } from './repo-common';

/** Python `str(datetime)` of a UTC instant, as Label Studio shows meta times (`2025-01-10 09:13:00.101000+00:00`). */
export function pyTime(d: Date): string {
  const iso = d.toISOString(); // 2025-01-10T09:13:00.101Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+00:00`;
}

/** Sync bookkeeping fields of a storage (read-only through the API). */
export type StorageStatusPatch = Partial<Pick<StorageItem, 'status' | 'last_sync' | 'last_sync_count' | 'last_sync_job' | 'traceback' | 'meta'>>;

/** What a write changes. Undefined values are left out. */
export interface SyncStateChange {
  /** Fields set whole (`meta` here replaces the whole map). */
  set?: StorageStatusPatch;
  /** Single `meta.<key>` entries set (the item must already have a `meta` map). */
  metaEntries?: Record<string, unknown>;
  /** Single `meta.<key>` entries set only where absent (e.g. when a failure began). */
  metaDefaults?: Record<string, unknown>;
  /** Numeric `meta.<key>` entries incremented (created at 0 when absent). */
  metaAdd?: Record<string, number>;
  /** `meta.<key>` entries removed. */
  removeMeta?: string[];
  /** Also stamp `updated_at` (default true). */
  touch?: boolean;
}

/** When a write applies (ANDed; the item must exist in any case). */
export interface SyncStateGuard {
  /** Refuse a deleted (cancelled) storage (default true). */
  live?: boolean;
  /** Only while `last_sync_job` is this job (a newer job owns the storage otherwise). */
  jobId?: string;
  statusIn?: SyncStatus[];
  statusNotIn?: SyncStatus[];
  /** Only while `meta.<key>` exists. */
  metaHas?: string;
  /** Only while `meta.<key>` is absent or below `value` (a counter that only goes up). */
  metaBelow?: { key: string; value: number };
}

/**
 * The one writer of a storage's sync state: applies `change` if `guard` holds. Returns the storage
 * after the write, or undefined when it does not exist or the guard did not hold (nothing written).
 */
export async function writeStorageSyncState(db: Db, id: number, change: SyncStateChange, guard: SyncStateGuard = {}): Promise<StorageItem | undefined> {
  const x = new UpdateExpression();
  if (change.touch ?? true) x.sets.push(`${x.name('updated_at')} = ${x.value(new Date().toISOString())}`);
  for (const [k, v] of Object.entries(change.set ?? {})) if (v !== undefined) x.sets.push(`${x.name(k)} = ${x.value(v)}`);
  const meta = () => (x.names['#meta'] = 'meta', '#meta');
  for (const [k, v] of Object.entries(change.metaEntries ?? {})) if (v !== undefined) x.sets.push(`${meta()}.${x.name(k)} = ${x.value(v)}`);
  for (const [k, v] of Object.entries(change.metaDefaults ?? {})) {
    const at = `${meta()}.${x.name(k)}`;
    if (v !== undefined) x.sets.push(`${at} = if_not_exists(${at}, ${x.value(v)})`);
  }
  for (const [k, v] of Object.entries(change.metaAdd ?? {})) {
    const at = `${meta()}.${x.name(k)}`;
    x.sets.push(`${at} = if_not_exists(${at}, ${x.value(0)}) + ${x.value(v)}`);
  }
  for (const k of change.removeMeta ?? []) x.removes.push(`${meta()}.${x.name(k)}`);
  if (guard.live ?? true) x.conds.push(`(attribute_not_exists(${x.name('cancelled')}) OR ${x.name('cancelled')} <> ${x.value(true)})`);
  if (guard.jobId !== undefined) x.conds.push(`${x.name('last_sync_job')} = ${x.value(guard.jobId)}`);
  if (guard.statusIn?.length) x.conds.push(`${x.name('status')} IN (${x.list(guard.statusIn)})`);
  if (guard.statusNotIn?.length) x.conds.push(`NOT ${x.name('status')} IN (${x.list(guard.statusNotIn)})`);
  if (guard.metaHas) x.conds.push(`attribute_exists(${meta()}.${x.name(guard.metaHas)})`);
  if (guard.metaBelow) {
    const path = `${meta()}.${x.name(guard.metaBelow.key)}`;
    x.conds.push(`(attribute_not_exists(${path}) OR ${path} < ${x.value(guard.metaBelow.value)})`);
  }
  return updateReturning<StorageItem>(db, { Key: keys.storage(id), ...x.input() });
}

/**
 * Writes sync bookkeeping fields of a live storage, whole. With `condition.statusIn`, only when
 * the current status is one of them (e.g. queue only from a final state); with `condition.jobId`,
 * only when `last_sync_job` equals it (a stale job cannot overwrite a newer one).
 * Returns the new item, or undefined when the storage is gone, cancelled (deleted), or the
 * condition does not hold.
 */
export function updateStorageStatus(
  db: Db,
  id: number,
  patch: StorageStatusPatch,
  condition: { statusIn?: SyncStatus[]; jobId?: string } = {},
): Promise<StorageItem | undefined> {
  return writeStorageSyncState(db, id, { set: patch }, condition);
}
