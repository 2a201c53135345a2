/**
 * Sync bookkeeping in the single table: jobs, chunks, failures and object links.
 *
 * - Job `JOB#<jobId>` / `JOB`: role, storage, atomic ADD counters (live progress), TTL 30 days.
 * - Chunk `JOB#<jobId>#C<n % 16>` / `CHUNK#<n>` (spread over 16 partition keys: chunk items are up
 *   to 300 KB and each is rewritten by its plan and done updates): the entries one syncChunk invocation handles, the key range
 *   it diffs, the id plan it reserved (so a retry reuses the same task ids) and a `done` flag set in
 *   the same transaction that adds the chunk's counters to the job (counted exactly once). TTL 7 days.
 * - Failure `JOB#<jobId>#FAIL` / `<chunk>#<i>`: the first failures of a job, in chunk order.
 * - Carry `JOB#<jobId>` / `CARRY#<step>`: the entries after the last chunk cut of a listing step
 *   that ended mid-chunk; the next step starts its first chunk with them (TTL as chunks).
 * - Link `LINK#<storageId>#<shard>` / `OBJ#<key>` (unordered storages, i.e. Redis; ordered ones keep
 *   the same records in pages, see repo-link-pages.ts, and tombstones in `TOMB#<storageId>`): which tasks an object produced, its version, rows
 *   that never became tasks and rows whose task a user deleted (tombstones). Links of one storage
 *   are spread over {@link LINK_SHARDS} partitions by a hash of the key so a 10M-object sync never
 *   writes one partition key faster than its 1,000 WCU/s (docs/scale.md); an ordered key range is
 *   then one Query per shard, run in parallel.
 */
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { keys, pad } from './keys';
import type { StorageItem, TaskItem } from './items';
import { batchGet, batchWrite, deletePartition, isConditionalFailure, queryAll, type Db } from './repo-common';
import { packJson, unpackJson } from './packed-json';
import { getStorage } from './repo-storages';

/** Partition keys the chunk items of one job are spread over (by chunk number). */
export const CHUNK_SHARDS = 16;
/** Link partitions per storage (hash of the object key). */
export const LINK_SHARDS = 16;
const JOB_TTL_SECONDS = 30 * 24 * 3600;
const CHUNK_TTL_SECONDS = 7 * 24 * 3600;
/** Failures kept per job (meta shows them; the count is exact). */
export const MAX_FAILURES = 100;

/** FNV-1a 32-bit: a stable, cheap spread of keys over link shards. */
export function linkShard(key: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(key, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % LINK_SHARDS;
}

export const syncKeys = {
  job: (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' }),
  chunk: (jobId: string, n: number) => ({ pk: `JOB#${jobId}#C${n % CHUNK_SHARDS}`, sk: `CHUNK#${pad(n)}` }),
  carry: (jobId: string, step: number) => ({ pk: `JOB#${jobId}`, sk: `CARRY#${pad(step)}` }),
  failures: (jobId: string) => `JOB#${jobId}#FAIL`,
  linkPk: (storageId: number, shard: number) => `LINK#${storageId}#${shard}`,
  link: (storageId: number, key: string) => ({ pk: `LINK#${storageId}#${linkShard(key)}`, sk: `OBJ#${key}` }),
  /** Tombstones of an ordered storage (its links live in pages): one partition, written only by task deletions. */
  tombPk: (storageId: number) => `TOMB#${storageId}`,
  tomb: (storageId: number, key: string) => ({ pk: `TOMB#${storageId}`, sk: `OBJ#${key}` }),
};

const ttlIn = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

// ---------------------------------------------------------------------------------------------
// Jobs

/** Counters of a job, all monotonic (atomic ADD). */
export interface JobCounters {
  /** Objects the listing produced (after filters). */
  listed: number;
  /** Objects whose chunk completed. */
  processed: number;
  /** Tasks created / updated in place / removed / flagged object_exists=false. */
  created: number;
  updated: number;
  removed: number;
  flagged: number;
  /** Objects skipped because their version did not change. */
  unchanged: number;
  /** Objects (or rows) that failed. */
  failed: number;
  /** Keys skipped because they lie under one of the project's target-storage prefixes. */
  skipped_export: number;
  /** Annotations created from task files. */
  annotations: number;
  /** Chunks planned by the listing. */
  chunks: number;
  /** Chunks skipped whole because their digest matched the previous clean job's. */
  chunks_unchanged: number;
}

export const COUNTER_NAMES: readonly (keyof JobCounters)[] = [
  'listed', 'processed', 'created', 'updated', 'removed', 'flagged', 'unchanged', 'failed', 'skipped_export', 'annotations', 'chunks', 'chunks_unchanged',
];

export interface JobItem extends JobCounters {
  kind: 'job';
  jobId: string;
  storageId: number;
  role: 'import' | 'export';
  /** Whether the provider lists in key order (decides range diff vs mark-and-sweep). */
  ordered: boolean;
  sync_deletions: SyncDeletions;
  /** The previous job whose chunk digests this job may trust (it ran cleanly right before); null → none. */
  trust_digests_of?: string | null;
  created_at: string;
  /** Epoch ms of the last progress mirror into the storage's meta. */
  mirrored_at?: number;
}

export type SyncDeletions = 'keep' | 'remove' | 'flag';

/** Creates the job item once (a retried Start keeps the first one). Returns the stored job. */
export async function createJob(
  db: Db,
  job: Pick<JobItem, 'jobId' | 'storageId' | 'role' | 'ordered' | 'sync_deletions' | 'trust_digests_of'>,
): Promise<JobItem> {
  const res = await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: syncKeys.job(job.jobId),
      UpdateExpression:
        'SET kind = if_not_exists(kind, :k), jobId = if_not_exists(jobId, :j), storageId = if_not_exists(storageId, :s), #role = if_not_exists(#role, :r), ' +
        '#ordered = if_not_exists(#ordered, :o), sync_deletions = if_not_exists(sync_deletions, :d), created_at = if_not_exists(created_at, :c), #ttl = if_not_exists(#ttl, :t), ' +
        'trust_digests_of = if_not_exists(trust_digests_of, :trust)',
      ExpressionAttributeNames: { '#role': 'role', '#ordered': 'ordered', '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':k': 'job', ':j': job.jobId, ':s': job.storageId, ':r': job.role, ':o': job.ordered, ':d': job.sync_deletions,
        ':c': new Date().toISOString(), ':t': ttlIn(JOB_TTL_SECONDS), ':trust': job.trust_digests_of ?? null,
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return withCounters(res.Attributes as Partial<JobItem>);
}

function withCounters(item: Partial<JobItem>): JobItem {
  const out = { ...item } as JobItem;
  for (const c of COUNTER_NAMES) out[c] = Number(item[c] ?? 0);
  return out;
}

/** The job, read strongly consistent; undefined when it does not exist (or expired). */
export async function getJob(db: Db, jobId: string): Promise<JobItem | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: syncKeys.job(jobId), ConsistentRead: true }));
  return res.Item ? withCounters(res.Item as Partial<JobItem>) : undefined;
}

/** `ADD #a :a, ...` parts for non-zero counters (names escaped: several are reserved words). */
function addExpression(delta: Partial<JobCounters>): { parts: string[]; names: Record<string, string>; values: Record<string, number> } {
  const parts: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  for (const [k, v] of Object.entries(delta)) {
    if (!v) continue;
    parts.push(`#${k} :${k}`);
    names[`#${k}`] = k;
    values[`:${k}`] = v;
  }
  return { parts, names, values };
}

/** Atomically adds counters to the job; returns the job after the addition. */
export async function addJobCounters(db: Db, jobId: string, delta: Partial<JobCounters>): Promise<JobItem | undefined> {
  const { parts, names, values } = addExpression(delta);
  if (!parts.length) return getJob(db, jobId);
  try {
    const res = await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: syncKeys.job(jobId),
        UpdateExpression: `ADD ${parts.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return withCounters(res.Attributes as Partial<JobItem>);
  } catch (e) {
    if (isConditionalFailure(e)) return undefined;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Chunks

/** One listed object inside a chunk item (short names: up to a few thousand per item). */
export interface ChunkEntry {
  /** Object key. */
  k: string;
  /** Size in bytes. */
  s?: number;
  /** Version tag (etag / generation / mtime-based). */
  e?: string;
  /** Last modified, epoch ms. */
  m?: number;
}

/** The ids a chunk reserved: per object key, the first task id and how many rows it may hold. */
export interface ChunkPlan {
  /** key → [firstTaskId, taskCount, firstAnnotationId, annotationCount] */
  objects: Record<string, [number, number, number, number]>;
}

export interface ChunkItem {
  kind: 'chunk';
  jobId: string;
  n: number;
  entries: ChunkEntry[];
  /** Diff range (ordered providers): keys after `from` (exclusive; null = from the start)... */
  from: string | null;
  /** ...up to `to` (inclusive); null = open-ended (the listing's last chunk). */
  to: string | null;
  /** True for chunks of an ordered listing (their ranges are diffed against links). */
  ordered: boolean;
  /** Link run the chunk's pages are written to (ordered listings; shared/db/repo-link-pages.ts). */
  run?: string;
  /** Export role: opaque entries of the export lister instead of object entries. */
  items?: unknown[];
  /** Id plans of the attempts (`plan0`, `plan1`, … — see {@link chunkPlans}). */
  plan0?: ChunkPlan;
  done?: boolean;
}

/**
 * Stores chunk items (idempotent puts: a retried listing step rewrites the same numbers). What an
 * earlier attempt recorded on a chunk is kept: a job run again from its first state (the local
 * runtime resumes an interrupted execution that way) lists the same chunks again. The id plans
 * survive, so tasks the interrupted attempt wrote before recording their links keep their ids
 * (no duplicates); a chunk already done with exactly the same content stays done, so its counters
 * are not added to the job (and the project) a second time.
 */
export async function putChunks(db: Db, chunks: Omit<ChunkItem, 'kind'>[]): Promise<void> {
  if (!chunks.length) return;
  const ttl = ttlIn(CHUNK_TTL_SECONDS);
  const earlier = await storedChunkState(db, chunks);
  await batchWrite(
    db,
    chunks.map((c) => ({ PutRequest: { Item: { ...earlier.get(`${c.jobId}#${c.n}`), ...syncKeys.chunk(c.jobId, c.n), kind: 'chunk', ttl, ...encodeChunk(c) } } })),
  );
}

/**
 * Stores the entries a listing step listed after its last chunk cut (overwrites: a retried step
 * writes the same). Cuts are content-defined, so chunks do not depend on where steps end.
 */
export async function putCarry(db: Db, jobId: string, step: number, entries: ChunkEntry[]): Promise<void> {
  await db.doc.send(
    new PutCommand({ TableName: db.table, Item: { ...syncKeys.carry(jobId, step), kind: 'carry', ttl: ttlIn(CHUNK_TTL_SECONDS), entries: packJson(entries) } }),
  );
}

/** The entries step `step` carried over (strongly consistent). */
export async function getCarry(db: Db, jobId: string, step: number): Promise<ChunkEntry[]> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: syncKeys.carry(jobId, step), ConsistentRead: true }));
  if (!res.Item) throw new Error(`the entries carried over by listing step ${step} of job ${jobId} are missing`);
  return unpackJson(res.Item.entries) as ChunkEntry[];
}

/* The bulky parts of a chunk item (entries, export items, id plans) are packed (packed-json.ts): the item is rewritten by each plan and by the done transaction. */
function encodeChunk(c: Omit<ChunkItem, 'kind'>): Record<string, unknown> {
  return { ...c, entries: packJson(c.entries), ...(c.items ? { items: packJson(c.items) } : {}) };
}

function decodeChunk(it: Record<string, unknown>): ChunkItem {
  const c = { ...it } as Record<string, unknown>;
  for (const k of Object.keys(c)) if (k === 'entries' || k === 'items' || /^plan\d+$/.test(k)) c[k] = unpackJson(c[k]);
  return c as unknown as ChunkItem;
}

/**
 * The `plan<i>` attributes already stored on these chunks, plus `done` where the stored chunk has
 * the same content (BatchGetItem by 100, bounded retries).
 */
async function storedChunkState(db: Db, chunks: Omit<ChunkItem, 'kind'>[]): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  // Key order of maps read back from DynamoDB is not the order written: compare canonically.
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  const content = (c: Partial<ChunkItem>) => JSON.stringify(canonical([c.from ?? null, c.to ?? null, c.ordered ?? null, c.entries ?? null, c.items ?? null]));
  const fresh = new Map(chunks.map((c) => [`${c.jobId}#${c.n}`, content(c)]));
  await batchGet(db, chunks.map((c) => syncKeys.chunk(c.jobId, c.n)), (raw) => {
    const it = decodeChunk(raw) as unknown as Record<string, unknown>;
    const id = `${it.jobId}#${it.n}`;
    const kept: Record<string, unknown> = Object.fromEntries(Object.entries(it).filter(([k]) => /^plan\d+$/.test(k)).map(([k, v]) => [k, packJson(v)]));
    if (it.done === true && fresh.get(id) === content(it as Partial<ChunkItem>)) kept.done = true;
    if (Object.keys(kept).length) out.set(id, kept);
  }, { consistent: true });
  return out;
}

/** A chunk, strongly consistent. */
export async function getChunk(db: Db, jobId: string, n: number): Promise<ChunkItem | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: syncKeys.chunk(jobId, n), ConsistentRead: true }));
  return res.Item ? decodeChunk(res.Item) : undefined;
}

/** Every id plan a chunk's attempts stored (`plan0`, `plan1`, …), merged: the first plan of a key wins. */
export function chunkPlans(chunk: ChunkItem): { objects: ChunkPlan['objects']; count: number } {
  const objects: ChunkPlan['objects'] = {};
  let count = 0;
  const c = chunk as unknown as Record<string, unknown>;
  for (; c[`plan${count}`]; count++) {
    for (const [k, v] of Object.entries((c[`plan${count}`] as ChunkPlan).objects)) if (!(k in objects)) objects[k] = v;
  }
  return { objects, count };
}

/**
 * Stores plan number `index` of a chunk once (a set-once attribute `plan<index>`). Returns false
 * when another attempt stored that plan first (re-read the chunk and merge).
 */
export async function addChunkPlan(db: Db, jobId: string, n: number, index: number, plan: ChunkPlan): Promise<boolean> {
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: syncKeys.chunk(jobId, n),
        UpdateExpression: 'SET #plan = :p',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#plan)',
        ExpressionAttributeNames: { '#plan': `plan${index}` },
        ExpressionAttributeValues: { ':p': packJson(plan) },
      }),
    );
    return true;
  } catch (e) {
    if (isConditionalFailure(e)) return false;
    throw e;
  }
}

/**
 * Marks the chunk done and adds its counters to the job in one transaction, so a retried chunk
 * never counts twice. Returns false when the chunk was already done (nothing added).
 */
export async function completeChunk(db: Db, jobId: string, n: number, delta: Partial<JobCounters>): Promise<boolean> {
  const { parts, names, values } = addExpression(delta);
  try {
    await db.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: db.table,
              Key: syncKeys.chunk(jobId, n),
              UpdateExpression: 'SET done = :t',
              ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(done) OR done = :f)',
              ExpressionAttributeValues: { ':t': true, ':f': false },
            },
          },
          ...(parts.length
            ? [{
                Update: {
                  TableName: db.table,
                  Key: syncKeys.job(jobId),
                  UpdateExpression: `ADD ${parts.join(', ')}`,
                  ExpressionAttributeNames: names,
                  ExpressionAttributeValues: values,
                },
              }]
            : []),
        ],
      }),
    );
    return true;
  } catch (e) {
    const err = e as { name?: string };
    if (err.name === 'TransactionCanceledException') return false;
    throw e;
  }
}

/** Chunks of a job that have an id plan but are not done (a chunk that never finished). */
export async function* unfinishedPlannedChunks(db: Db, jobId: string): AsyncGenerator<ChunkItem> {
  for (let shard = 0; shard < CHUNK_SHARDS; shard++) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const res = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
          FilterExpression: 'attribute_exists(plan0) AND (attribute_not_exists(done) OR done = :f)',
          ExpressionAttributeValues: { ':pk': `JOB#${jobId}#C${shard}`, ':c': 'CHUNK#', ':f': false },
          ExclusiveStartKey: startKey,
          Limit: 200,
        }),
      );
      for (const it of res.Items ?? []) yield decodeChunk(it);
      startKey = res.LastEvaluatedKey;
    } while (startKey);
  }
}

// ---------------------------------------------------------------------------------------------
// Failures

export interface SyncFailure {
  key: string;
  reason: string;
}

/** Stores failures of one chunk under deterministic keys (a retry overwrites them). */
export async function putFailures(db: Db, jobId: string, chunk: number, failures: SyncFailure[]): Promise<void> {
  if (!failures.length) return;
  const ttl = ttlIn(JOB_TTL_SECONDS);
  await batchWrite(
    db,
    failures.slice(0, MAX_FAILURES).map((f, i) => ({
      PutRequest: { Item: { pk: syncKeys.failures(jobId), sk: `${pad(chunk)}#${String(i).padStart(4, '0')}`, kind: 'sync_failure', ttl, ...f } },
    })),
  );
}

/** The first `limit` failures of a job, in chunk order. */
export async function listFailures(db: Db, jobId: string, limit = MAX_FAILURES): Promise<SyncFailure[]> {
  const out: SyncFailure[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const res = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': syncKeys.failures(jobId) },
        ProjectionExpression: '#k, reason',
        ExpressionAttributeNames: { '#k': 'key' },
        Limit: limit - out.length,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const it of res.Items ?? []) out.push({ key: String(it.key), reason: String(it.reason) });
    startKey = res.LastEvaluatedKey;
  } while (startKey && out.length < limit);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Links

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

function fromLinkItem(item: Record<string, unknown>): LinkItem {
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
    let startKey: Record<string, unknown> | undefined;
    do {
      const res = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :o)',
          FilterExpression: 'jobId <> :job',
          ExpressionAttributeValues: { ':pk': syncKeys.linkPk(storageId, shard), ':o': 'OBJ#', ':job': jobId },
          ExclusiveStartKey: startKey,
          Limit: 1000,
          ConsistentRead: true,
        }),
      );
      const page = (res.Items ?? []).map(fromLinkItem);
      if (page.length) yield page;
      startKey = res.LastEvaluatedKey;
    } while (startKey);
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
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: syncKeys.link(src.storageId, src.key),
        UpdateExpression: 'ADD tomb :row',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':row': row },
      }),
    );
    return;
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
  }
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

// ---------------------------------------------------------------------------------------------
// Chunk digests (skip of unchanged chunks)

const DIGEST_TTL_SECONDS = 90 * 24 * 3600;

/** The last job that ran chunks of a storage, and whether it finished cleanly (listing done, every chunk done, no error). */
export async function getLastSyncRun(db: Db, storageId: number): Promise<{ jobId: string; clean: boolean } | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: { pk: `SUM#${storageId}`, sk: 'LAST' }, ConsistentRead: true }));
  return res.Item ? { jobId: String(res.Item.jobId), clean: res.Item.clean === true } : undefined;
}

/** Records the job that just finished (finalize). */
export async function setLastSyncRun(db: Db, storageId: number, jobId: string, clean: boolean): Promise<void> {
  await db.doc.send(
    new PutCommand({ TableName: db.table, Item: { pk: `SUM#${storageId}`, sk: 'LAST', kind: 'sync_run', jobId, clean, ttl: ttlIn(DIGEST_TTL_SECONDS) } }),
  );
}

/** The job that last fully synced a chunk with this digest (same range, keys, versions, mode), if any. */
export async function getChunkDigestJob(db: Db, storageId: number, digest: string): Promise<string | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: { pk: `SUM#${storageId}`, sk: `D#${digest}` }, ConsistentRead: true }));
  return res.Item ? String(res.Item.jobId) : undefined;
}

/** Jobs of several digests at once (BatchGetItem by 100, strongly consistent, bounded retries). */
export async function getChunkDigestJobs(db: Db, storageId: number, digests: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const keys = [...new Set(digests)].map((d) => ({ pk: `SUM#${storageId}`, sk: `D#${d}` }));
  await batchGet(db, keys, (it) => out.set(String(it.sk).slice(2), String(it.jobId)), { consistent: true });
  return out;
}

/** Records several digests for `jobId` (batched). */
export async function putChunkDigests(db: Db, storageId: number, digests: string[], jobId: string): Promise<void> {
  const ttl = ttlIn(DIGEST_TTL_SECONDS);
  await batchWrite(db, digests.map((d) => ({ PutRequest: { Item: { pk: `SUM#${storageId}`, sk: `D#${d}`, kind: 'chunk_digest', jobId, ttl } } })));
}

/** Records that `jobId` left the links of this chunk exactly as its digest describes. */
export async function putChunkDigest(db: Db, storageId: number, digest: string, jobId: string): Promise<void> {
  await db.doc.send(
    new PutCommand({ TableName: db.table, Item: { pk: `SUM#${storageId}`, sk: `D#${digest}`, kind: 'chunk_digest', jobId, ttl: ttlIn(DIGEST_TTL_SECONDS) } }),
  );
}

/** Deletes the digest items of a storage (storage deletion). */
export async function deleteSyncSummaries(db: Db, storageId: number): Promise<void> {
  await deletePartition(db, `SUM#${storageId}`);
}

// ---------------------------------------------------------------------------------------------
// Storage status (the sync fields of the storage item; D's repository owns the rest)

/**
 * Copies live progress into the storage's meta, at most once per `everyMs` per job (a conditional
 * update on the job item's `mirrored_at` elects one writer), and only while the job is the
 * storage's current one and the storage is in progress.
 */
export async function mirrorProgress(
  db: Db,
  storageId: number,
  jobId: string,
  everyMs = 3_000,
): Promise<void> {
  const now = Date.now();
  let job: JobItem;
  try {
    // The elected writer gets the counters back from its own update: no read for the others.
    const res = await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: syncKeys.job(jobId),
        UpdateExpression: 'SET mirrored_at = :now',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(mirrored_at) OR mirrored_at < :before)',
        ExpressionAttributeValues: { ':now': now, ':before': now - everyMs },
        ReturnValues: 'ALL_NEW',
      }),
    );
    job = withCounters(res.Attributes as Partial<JobItem>);
  } catch (e) {
    if (isConditionalFailure(e)) return;
    throw e;
  }
  await setStorageSyncFields(db, storageId, job.jobId, {
    meta: {
      objects_listed: job.listed,
      objects_processed: job.processed,
      tasks_created: job.created,
      time_last_ping: pyTime(new Date(now)),
    },
  }, { requireStatus: ['in_progress'] });
}

/** Python `str(datetime)` of a UTC instant, as Label Studio shows meta times (`2025-01-10 09:13:00.101000+00:00`). */
export function pyTime(d: Date): string {
  const iso = d.toISOString(); // 2025-01-10T09:13:00.101Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+00:00`;
}

/**
 * Sets sync fields of the storage (`status`, `last_sync*`, `traceback`, individual `meta.<k>`
 * entries) only if `last_sync_job` is still `jobId` (a newer job owns the storage otherwise) and
 * the storage is not cancelled. Returns false when the condition did not hold.
 */
export async function setStorageSyncFields(
  db: Db,
  storageId: number,
  jobId: string,
  fields: Partial<Pick<StorageItem, 'status' | 'last_sync' | 'last_sync_count' | 'traceback'>> & { meta?: Record<string, unknown> },
  opts: { requireStatus?: StorageItem['status'][] } = {},
): Promise<boolean> {
  const names: Record<string, string> = { '#job': 'last_sync_job', '#updated': 'updated_at' };
  const values: Record<string, unknown> = { ':job': jobId, ':updated': new Date().toISOString() };
  const sets = ['#updated = :updated'];
  let i = 0;
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'meta' || v === undefined) continue;
    names[`#f${i}`] = k;
    values[`:f${i}`] = v;
    sets.push(`#f${i} = :f${i}`);
    i++;
  }
  for (const [k, v] of Object.entries(fields.meta ?? {})) {
    if (v === undefined) continue;
    names['#meta'] = 'meta';
    names[`#m${i}`] = k;
    values[`:m${i}`] = v;
    sets.push(`#meta.#m${i} = :m${i}`);
    i++;
  }
  let cond = 'attribute_exists(pk) AND #job = :job AND (attribute_not_exists(cancelled) OR cancelled = :false)';
  values[':false'] = false;
  if (opts.requireStatus?.length) {
    names['#status'] = 'status';
    cond += ` AND #status IN (${opts.requireStatus.map((_s, j) => `:rs${j}`).join(', ')})`;
    opts.requireStatus.forEach((s, j) => (values[`:rs${j}`] = s));
  }
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.storage(storageId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: cond,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (e) {
    if (isConditionalFailure(e)) return false;
    throw e;
  }
}
