/**
 * The routing items of event-synced storages (shared/db/repo-event-routes.ts), derived from a
 * storage's definition: family and place of its location rule (S3: `s3` and the bucket).
 */
import type { StorageItem } from '../../db/items';
import type { Db } from '../../db/repo-common';
import { deleteEventRoute, putEventRoute, type EventRoute } from '../../db/repo-event-routes';
import { backend } from '../../storage/backends';
import { followsEvents } from './apply-object-events';

/** Where a storage's notifications come from (undefined for a type without a location rule). */
export function eventRouteOf(storage: StorageItem): EventRoute | undefined {
  const rule = backend(storage.type)?.location;
  if (!rule) return undefined;
  return { storageId: storage.id, orgId: storage.orgId, projectId: storage.projectId, type: storage.type, family: rule.family, place: rule.place(storage.fields ?? {}, storage.role) };
}

/**
 * Keeps the routing items in step with a storage after a create, update or delete (`storage` as
 * saved, `previous` before the update): written while it follows events, deleted otherwise.
 */
export async function maintainEventRoute(db: Db, storage: StorageItem, previous?: StorageItem): Promise<void> {
  const route = eventRouteOf(storage);
  const before = previous ? eventRouteOf(previous) : undefined;
  if (route && followsEvents(storage)) return putEventRoute(db, route, before && followsEvents(previous) ? before : undefined);
  if (before && previous && followsEvents(previous)) await deleteEventRoute(db, before);
  else if (route) await deleteEventRoute(db, route);
}
