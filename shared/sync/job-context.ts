/**
 * The storage a sync step works for, re-read (strongly consistent) at the start of every step:
 * a deleted storage (cancelled tombstone or gone) or a newer job on it (another `last_sync_job`)
 * stops the step cleanly — that is how a job is cancelled and how an old execution is fenced off.
 */
import type { StorageItem } from '../db/items';
import type { Db } from '../db/repo-common';
import { getStorage } from '../db/repo-storages';
import type { StorageConfig, StorageProvider } from '../storage/types';
import type { SyncDeps } from './deps';

/** The storage item, strongly consistent, deleted (cancelled) ones included, or undefined. */
export function readStorage(db: Db, storageId: number): Promise<StorageItem | undefined> {
  return getStorage(db, storageId, { includeDeleted: true, consistent: true });
}

/** Why a job must stop, or undefined when it may go on. */
export function stopReason(storage: StorageItem | undefined, jobId: string): string | undefined {
  if (!storage || storage.cancelled) return 'the storage was deleted';
  if (storage.last_sync_job !== jobId) return 'a newer sync job replaced this one';
  return undefined;
}

export interface LiveJob {
  storage: StorageItem;
  config: StorageConfig;
  provider: StorageProvider;
}

/** Storage, config and provider of a job that may go on; `{stop}` otherwise. */
export async function loadLiveJob(deps: SyncDeps, storageId: number, jobId: string): Promise<LiveJob | { stop: string }> {
  const storage = await readStorage(deps.db, storageId);
  const stop = stopReason(storage, jobId);
  if (stop) return { stop };
  const config = await deps.storageConfig(storage!);
  const provider = await deps.getProvider(config, storageId);
  return { storage: storage!, config, provider };
}

/** The deletion mode of a storage (`sync_deletions`, default keep). */
export function syncDeletionsOf(storage: StorageItem): 'keep' | 'remove' | 'flag' {
  const v = storage.fields?.sync_deletions;
  return v === 'remove' || v === 'flag' ? v : 'keep';
}
