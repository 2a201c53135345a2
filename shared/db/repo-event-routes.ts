/**
 * Which storages follow object notifications (`event_sync: true` import storages), kept beside
 * the storage items so a notification finds its storages with one Query:
 *
 * - `EVR#<family>#<place>` / `S#<storageId>`: by location (S3: family `s3`, place = bucket), read by
 *   the S3 events handler for each bucket of a batch;
 * - `EVT#<type>` / `S#<storageId>`: by type, read by the local runtime's watchers and subscribers.
 *
 * The storage use cases write both on create and update (removing the previous place's item when
 * the bucket changed) and delete both when the storage is deleted or `event_sync` is turned off.
 */
import type { StorageItem } from './items';
import { batchWrite, queryAll, type Db } from './repo-common';
import { pad } from './keys';

/** One event-synced storage as the routing items record it. */
export interface EventRoute {
  storageId: number;
  orgId: string;
  projectId: number;
  type: StorageItem['type'];
  family: string;
  place: string;
}

const byPlace = (family: string, place: string) => `EVR#${family}#${place}`;
const byType = (type: string) => `EVT#${type}`;
const sk = (id: number) => `S#${pad(id)}`;

/** Writes (or moves, when `previous` was elsewhere) the routing items of `route`. */
export async function putEventRoute(db: Db, route: EventRoute, previous?: EventRoute): Promise<void> {
  const item = { ...route, kind: 'event_route' };
  const reqs: Parameters<typeof batchWrite>[1] = [
    { PutRequest: { Item: { pk: byPlace(route.family, route.place), sk: sk(route.storageId), ...item } } },
    { PutRequest: { Item: { pk: byType(route.type), sk: sk(route.storageId), ...item } } },
  ];
  if (previous && (previous.family !== route.family || previous.place !== route.place)) {
    reqs.push({ DeleteRequest: { Key: { pk: byPlace(previous.family, previous.place), sk: sk(previous.storageId) } } });
  }
  await batchWrite(db, reqs);
}

/** Deletes the routing items of `route` (idempotent). */
export async function deleteEventRoute(db: Db, route: Pick<EventRoute, 'storageId' | 'type' | 'family' | 'place'>): Promise<void> {
  await batchWrite(db, [
    { DeleteRequest: { Key: { pk: byPlace(route.family, route.place), sk: sk(route.storageId) } } },
    { DeleteRequest: { Key: { pk: byType(route.type), sk: sk(route.storageId) } } },
  ]);
}

/** Event-synced storages on one place (e.g. every storage following S3 bucket `place`). */
export async function routesOfPlace(db: Db, family: string, place: string): Promise<EventRoute[]> {
  const out: EventRoute[] = [];
  await queryAll(db, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': byPlace(family, place) }, ConsistentRead: true }, (it) => out.push(toRoute(it)));
  return out;
}

/** Event-synced storages of one type. */
export async function routesOfType(db: Db, type: string): Promise<EventRoute[]> {
  const out: EventRoute[] = [];
  await queryAll(db, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': byType(type) }, ConsistentRead: true }, (it) => out.push(toRoute(it)));
  return out;
}

function toRoute(it: Record<string, unknown>): EventRoute {
  return { storageId: Number(it.storageId), orgId: String(it.orgId), projectId: Number(it.projectId), type: it.type as EventRoute['type'], family: String(it.family), place: String(it.place) };
}
