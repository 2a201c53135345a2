/**
 * Object links of unordered storages (Redis) and tombstones of ordered ones: which tasks an object
 * produced, its version, rows that never became tasks and rows whose task a user deleted.
 *
 * - Link `LINK#<storageId>#<shard>` / `OBJ#<key>`; ordered storages keep the same records in pages
 *   (repo-link-pages.ts) and their tombstones in `TOMB#<storageId>` / `OBJ#<key>`.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TaskItem } from './items';
import { batchGet, batchWrite, queryAll, queryPages, updateIf, type Db } from './repo-common';
import { getStorage } from './repo-storages';
import { LINK_SHARDS, syncKeys } from './sync-keys';


/** The record of one synced object. */
export interface LinkItem {
  kind: 'link';
  storageId: number;
  key: string;
  etag?: string;
  size?: number;
  /** Last modified (epoch ms) when the provider gives no etag. */
  mtime?: number;
  /** SHA-256 (base64url) of the content last read (JSON mode): same content → nothing rewritten. */
  hash?: string;
  /** True when the object was one JSON object (row_index null), false for arrays/lines/blob. */
  single: boolean;
  /** Rows the object had when last synced. */
  rows: number;
  /** Task ids of rows 0..rows-1, as consecutive blocks `[firstId, count]`. */
  idRanges: [number, number][];
  /** Rows that never became a task (failed, or removed from the object). */
  absent?: number[];
  /** How many rows failed in the last write: such an object is read again by every sync. */
  failed?: number;
  /** Rows whose task a user deleted: never recreated or rewritten. */
  tomb?: Set<number>;
  /** Last job that wrote or touched (mark phase) the link. */
  jobId: string;
  /** False once the object was found gone with sync_deletions = "flag". */
  object_exists?: boolean;
  updated_at: string;
}

/** Task id of `row` per the link's id ranges, or undefined past the end. */
export function taskIdOfRow(link: Pick<LinkItem, 'idRanges'>, row: number): number | undefined {
  let r = row;
  for (const [first, count] of link.idRanges) {
    if (r < count) return first + r;
    r -= count;
  }
  return undefined;
}

/** A stored link (or tombstone) item as a LinkItem: key attributes dropped, defaults filled. */
export function fromLinkItem(item: Record<string, unknown>): LinkItem {
  const { pk: _pk, sk: _sk, ...rest } = item;
  const link = rest as unknown as LinkItem;
  if (link.tomb && !(link.tomb instanceof Set)) link.tomb = new Set(link.tomb as Iterable<number>);
  // A tombstone-only item (a task of an ordered storage deleted by a user) links no rows.
  link.rows ??= 0;
  link.idRanges ??= [];
  link.single ??= false;
  return link;
}

function toLinkItem(link: LinkItem): Record<string, unknown> {
  const { tomb, ...rest } = link;
  // DynamoDB rejects empty sets; a tombstone set only exists once a task was deleted.
  return { ...syncKeys.link(link.storageId, link.key), ...rest, kind: 'link', ...(tomb && tomb.size ? { tomb } : {}) };
}

/** Links of the given keys (BatchGetItem by 100, strongly consistent, bounded retries). */
export async function getLinks(db: Db, storageId: number, keys: string[]): Promise<Map<string, LinkItem>> {
  const out = new Map<string, LinkItem>();
  await batchGet(db, [...new Set(keys)].map((k) => syncKeys.link(storageId, k)), (it) => {
    const link = fromLinkItem(it);
    out.set(link.key, link);
  }, { consistent: true });
  return out;
}

/** Writes links (batched, idempotent full puts). */
export async function putLinks(db: Db, links: LinkItem[], concurrency = 4): Promise<void> {
  if (links.length) await batchWrite(db, links.map((l) => ({ PutRequest: { Item: toLinkItem(l) } })), { concurrency });
}

/** Deletes links by key (batched). */
export async function deleteLinks(db: Db, storageId: number, keys: string[]): Promise<void> {
  if (keys.length) await batchWrite(db, keys.map((k) => ({ DeleteRequest: { Key: syncKeys.link(storageId, k) } })));
}

/**
 * Links of a storage that the job `jobId` did not touch, page by page (mark-and-sweep for
 * unordered providers): one paginated Query per shard, shards one after another.
 */
export async function* linksNotTouchedBy(db: Db, storageId: number, jobId: string): AsyncGenerator<LinkItem[]> {
  for (let shard = 0; shard < LINK_SHARDS; shard++) {
    const input = {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :o)',
      FilterExpression: 'jobId <> :job',
      ExpressionAttributeValues: { ':pk': syncKeys.linkPk(storageId, shard), ':o': 'OBJ#', ':job': jobId },
      ConsistentRead: true,
    };
    for await (const { items } of queryPages(db, input, 1000)) if (items.length) yield items.map(fromLinkItem);
  }
}

/** Deletes every link and tombstone of a storage (storage deletion); returns how many were deleted. */
export async function deleteLinksOfStorage(db: Db, storageId: number): Promise<number> {
  let n = 0;
  for await (const page of linksNotTouchedBy(db, storageId, '\u0000none')) {
    await deleteLinks(db, storageId, page.map((l) => l.key));
    n += page.length;
  }
  const tombs = await queryTombRange(db, storageId, null, null);
  await deleteTombs(db, storageId, [...tombs.keys()]);
  return n + tombs.size;
}

/**
 * Tombstones of an ordered storage whose key lies in (`from`, `to`], strongly consistent (one
 * paginated Query): key → link-shaped record carrying only `tomb`.
 */
export async function queryTombRange(db: Db, storageId: number, from: string | null, to: string | null): Promise<Map<string, LinkItem>> {
  const out = new Map<string, LinkItem>();
  const values: Record<string, string> = { ':pk': syncKeys.tombPk(storageId) };
  let cond = 'pk = :pk AND begins_with(sk, :lo)';
  values[':lo'] = 'OBJ#';
  if (to !== null) {
    cond = 'pk = :pk AND sk BETWEEN :lo AND :hi';
    values[':lo'] = `OBJ#${from ?? ''}`;
    values[':hi'] = `OBJ#${to}`;
  } else if (from !== null) {
    // The partition holds nothing but OBJ# items: no upper bound needed.
    cond = 'pk = :pk AND sk >= :lo';
    values[':lo'] = `OBJ#${from}`;
  }
  await queryAll(db, { KeyConditionExpression: cond, ExpressionAttributeValues: values, ConsistentRead: true }, (it) => {
    const link = fromLinkItem(it);
    if (from === null || link.key !== from) out.set(link.key, link);
  });
  return out;
}

/** Tombstone-partition records (tombstones, event overlays) of the given keys (BatchGetItem, strongly consistent). */
export async function getTombRecords(db: Db, storageId: number, keys: string[]): Promise<Map<string, LinkItem>> {
  const out = new Map<string, LinkItem>();
  await batchGet(db, [...new Set(keys)].map((k) => syncKeys.tomb(storageId, k)), (it) => {
    const link = fromLinkItem(it);
    out.set(link.key, link);
  }, { consistent: true });
  return out;
}

/** Deletes tombstones of an ordered storage by key (batched). */
export async function deleteTombs(db: Db, storageId: number, keys: string[]): Promise<void> {
  if (keys.length) await batchWrite(db, keys.map((k) => ({ DeleteRequest: { Key: syncKeys.tomb(storageId, k) } })));
}

/**
 * Records that the task `task` was deleted by a user, so later syncs never bring its row back
 * (a tombstone row in the object's link; `-1` stands for the row of a one-object file).
 * Tasks without `source` and links that no longer exist are ignored. Idempotent.
 */
export async function recordTaskDeletion(db: Db, task: Pick<TaskItem, 'source'>): Promise<void> {
  const src = task.source;
  if (!src) return;
  const row = new Set([src.row_index ?? -1]);
  const linked = await updateIf(db, {
    Key: syncKeys.link(src.storageId, src.key),
    UpdateExpression: 'ADD tomb :row',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':row': row },
  });
  if (linked) return;
  // No link item: ordered storages keep their links in pages (repo-link-pages.ts), which only a
  // sync writes; the tombstone gets an item of its own, read with the pages. None for a storage
  // that no longer exists.
  if (!(await getStorage(db, src.storageId))) return;
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: syncKeys.tomb(src.storageId, src.key),
      UpdateExpression: 'ADD tomb :row SET kind = :kind, storageId = :s, #key = :k',
      ExpressionAttributeNames: { '#key': 'key' },
      ExpressionAttributeValues: { ':row': row, ':kind': 'link_tomb', ':s': src.storageId, ':k': src.key },
    }),
  );
}
