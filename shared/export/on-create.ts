/**
 * Label Studio runs a full export sync as soon as a target storage is created
 * (`SYNC_ON_TARGET_STORAGE_CREATION`, default true); the API calls this through
 * `AppContext.onExportStorageCreated`. After that the stream keeps the target current.
 */
import type { StorageItem } from '../db/items';
import { requestSync, type RequestSyncDeps } from '../sync/request-sync';

/**
 * Queues and starts the export sync of a newly created target storage.
 * @throws what requestSync throws (the caller logs it; the create still answers 201)
 */
export async function syncNewExportStorage(deps: RequestSyncDeps, storage: StorageItem): Promise<void> {
  await requestSync(deps, storage);
}
