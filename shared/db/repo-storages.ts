/**
 * Storages (import and export): `STORAGE#<id>` items, listed per project through gsi1
 * (`PROJECT#<p>#STORAGES`, sort key `<role>#<type>#<zero-padded id>`, so one Query returns a
 * project's storages of one role, or of one role and type).
 *
 * Deletion leaves a tombstone: the item keeps its key with `cancelled: true`, loses its gsi1 keys
 * (out of every listing) and expires by TTL after 7 days. A running sync job re-reads its
 * storage (`getStorage(db, id, {includeDeleted: true})`) and stops when it sees `cancelled`;
 * the sync-state writer (repo-storage-sync-state.ts) refuses to write to a cancelled storage.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys, pad } from './keys';
import type { StorageItem } from './items';
import type { StorageRole, StorageType } from '../storage/types';
import { queryAll, stripKeys, updateIf, updateReturning, type Db } from './repo-common';

const TOMBSTONE_TTL_SECONDS = 7 * 24 * 3600;

function sortKey(role: StorageRole, type?: StorageType, id?: number): string {
  return [role, type, id === undefined ? undefined : pad(id)].filter((x) => x !== undefined).join('#') + (id === undefined ? '#' : '');
}

/** Stores a new storage (id from `nextId(db, 'storage')`). */
export async function putStorage(db: Db, s: StorageItem): Promise<void> {
  await db.doc.send(
    new PutCommand({
      TableName: db.table,
      Item: { ...keys.storage(s.id), ...keys.storagesOfProject(s.projectId), gsi1sk: sortKey(s.role, s.type, s.id), ...s, kind: 'storage' },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}

/**
 * One storage by id (any organization; callers check `orgId`). Deleted (tombstoned) storages are
 * undefined unless `includeDeleted` (sync jobs use that to notice cancellation).
 */
export async function getStorage(db: Db, id: number, opts: { includeDeleted?: boolean; consistent?: boolean } = {}): Promise<StorageItem | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.storage(id), ConsistentRead: opts.consistent ?? true }));
  const s = stripKeys<StorageItem>(res.Item);
  if (s?.cancelled && !opts.includeDeleted) return undefined;
  return s;
}

/** A project's live storages, optionally of one role and type, in (role, type, id) order. */
export async function listProjectStorages(db: Db, projectId: number, role?: StorageRole, type?: StorageType): Promise<StorageItem[]> {
  const out: StorageItem[] = [];
  const prefix = role ? sortKey(role, type) : undefined;
  await queryAll(
    db,
    {
      IndexName: 'gsi1',
      KeyConditionExpression: prefix ? 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)' : 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.storagesOfProject(projectId).gsi1pk, ...(prefix ? { ':prefix': prefix } : {}) },
    },
    (it) => {
      const s = stripKeys<StorageItem>(it)!;
      if (!s.cancelled) out.push(s);
    },
  );
  return out;
}

/**
 * Replaces the configuration (non-secret `fields`, the encrypted `secrets` blob and the names in
 * it; no `secrets` removes both) of a live storage. Returns the new item, or undefined when it is gone or deleted.
 */
export async function updateStorageConfig(
  db: Db,
  id: number,
  patch: { fields: Record<string, unknown>; secrets?: string; secretFields?: string[]; synchronizable?: boolean },
): Promise<StorageItem | undefined> {
  // Several of these names (fields, secrets...) are DynamoDB reserved words: always alias.
  const names: Record<string, string> = { '#f': 'fields', '#u': 'updated_at', '#c': 'cancelled', '#s': 'secrets', '#sf': 'secret_fields' };
  const values: Record<string, unknown> = { ':f': patch.fields, ':u': new Date().toISOString(), ':true': true };
  const sets = ['#f = :f', '#u = :u'];
  const removes: string[] = [];
  if (patch.secrets) {
    sets.push('#s = :s', '#sf = :sf');
    values[':s'] = patch.secrets;
    values[':sf'] = patch.secretFields ?? [];
  } else removes.push('#s', '#sf');
  if (patch.synchronizable !== undefined) {
    names['#sy'] = 'synchronizable';
    sets.push('#sy = :sy');
    values[':sy'] = patch.synchronizable;
  }
  return updateReturning<StorageItem>(db, {
    Key: keys.storage(id),
    UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
    ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#c) OR #c <> :true)',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
}

/**
 * Deletes a storage by turning it into a tombstone (see the module comment): `cancelled: true`,
 * `deleted_at`, secrets and gsi1 keys removed, TTL set. Tasks are kept. Returns false when the
 * storage did not exist (or was already deleted).
 */
export async function tombstoneStorage(db: Db, id: number): Promise<boolean> {
  const now = new Date();
  return updateIf(db, {
    Key: keys.storage(id),
    UpdateExpression: 'SET #c = :true, deleted_at = :now, #ttl = :ttl, updated_at = :now REMOVE gsi1pk, gsi1sk, #s, #sf',
    ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#c) OR #c <> :true)',
    ExpressionAttributeNames: { '#ttl': 'ttl', '#c': 'cancelled', '#s': 'secrets', '#sf': 'secret_fields' },
    ExpressionAttributeValues: { ':true': true, ':now': now.toISOString(), ':ttl': Math.floor(now.getTime() / 1000) + TOMBSTONE_TTL_SECONDS },
  });
}
