/**
 * Object events that arrived while a sync job of their storage was running
 * (`EVQ#<storageId>` / `K#<key>`, one item per key: the newest event wins, which coalesces a burst).
 * Applying them under a running job could race its chunks (a chunk that read a range's links
 * before the event wrote its task would create a second one), so they wait; the job's finalize
 * step — or the next event call that finds no job running — applies them. TTL 7 days.
 */
import { batchWrite, queryPages, type Db } from './repo-common';
import { ttlIn } from './sync-keys';

const PENDING_TTL_SECONDS = 7 * 24 * 3600;
const pk = (storageId: number) => `EVQ#${storageId}`;

/** One deferred event (the object-events core's ObjectEvent, dates as ISO strings). */
export interface PendingEvent {
  key: string;
  kind: 'created' | 'removed';
  etag?: string;
  size?: number;
  lastModified?: string;
  sequencer?: string;
  eventTime?: string;
}

/** Stores deferred events (batched puts; one item per key, the last put wins). */
export async function putPendingEvents(db: Db, storageId: number, events: PendingEvent[]): Promise<void> {
  const ttl = ttlIn(PENDING_TTL_SECONDS);
  const items = events.map(({ kind, ...e }) => ({ pk: pk(storageId), sk: `K#${e.key}`, ...stripUndefined(e), kind: 'pending_event', event_kind: kind, storageId, ttl }));
  if (items.length) await batchWrite(db, items.map((Item) => ({ PutRequest: { Item } })));
}

/** Deferred events of a storage, page by page (strongly consistent). */
export async function* pendingEventPages(db: Db, storageId: number, pageSize = 1000): AsyncGenerator<PendingEvent[]> {
  const input = { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk(storageId) }, ConsistentRead: true };
  for await (const { items } of queryPages(db, input, pageSize)) {
    if (items.length) yield items.map((it) => stripUndefined({ key: String(it.key), kind: it.event_kind === 'removed' ? 'removed' : 'created', etag: it.etag as string | undefined, size: it.size as number | undefined, lastModified: it.lastModified as string | undefined, sequencer: it.sequencer as string | undefined, eventTime: it.eventTime as string | undefined }) as PendingEvent);
  }
}

/** Deletes deferred events once applied (batched). */
export async function deletePendingEvents(db: Db, storageId: number, keys: string[]): Promise<void> {
  if (keys.length) await batchWrite(db, keys.map((k) => ({ DeleteRequest: { Key: { pk: pk(storageId), sk: `K#${k}` } } })));
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
