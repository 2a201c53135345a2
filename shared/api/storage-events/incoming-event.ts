/**
 * The normalised object notification every push parser produces, and the one function that
 * applies a batch of them to a storage (the event-sync core behind it is shared with S3 ingest
 * and the local watcher).
 */
import type { StorageItem } from '../../db/items';

/** One object change, backend-neutral. `sequencer` orders changes of one key (GCS generation, Azure sequencer). */
export interface IncomingObjectEvent {
  key: string;
  kind: 'created' | 'removed';
  etag?: string;
  size?: number;
  lastModified?: string;
  sequencer?: string;
  eventTime?: string;
}

/** Applies (or durably records) `events` for `storage`; resolves only when that is done. */
export type ApplyIncomingEvents = (storage: StorageItem, events: IncomingObjectEvent[]) => Promise<void>;
