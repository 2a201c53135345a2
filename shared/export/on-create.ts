/**
 * Label Studio runs a full export sync as soon as a target storage is created
 * (`SYNC_ON_TARGET_STORAGE_CREATION`, default true); the API calls this through
 * `AppContext.onExportStorageCreated`. After that the stream keeps the target current.
 */
import type { StorageItem } from '../db/items';
import { requestSyncDeps } from '../sync/context';
import { requestSync } from '../sync/request-sync';

/** Queues and starts the export sync of a newly created target storage. */
export async function syncNewExportStorage(storage: StorageItem): Promise<void> {
  await requestSync(requestSyncDeps(), storage);
}
