/**
 * Whether a storage follows its object notifications. Its own module: the storages API (routing
 * items) needs it without loading the event-apply path into every API function's cold start.
 */
import type { StorageItem } from '../../db/items';

/** True when the storage takes events: a live import storage with `event_sync` on. */
export function followsEvents(storage: StorageItem | undefined): storage is StorageItem {
  return !!storage && !storage.cancelled && storage.role === 'import' && storage.fields?.event_sync === true;
}
