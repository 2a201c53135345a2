/**
 * Chunks and carries of a sync job.
 *
 * - Chunk `JOB#<jobId>#C<n % 16>` / `CHUNK#<n>`: the entries one chunk step handles, the key range
 *   it diffs, the id plans it reserved (so a retry reuses the same task ids) and a `done` flag set
 *   in the same transaction that adds the chunk's counters to the job (counted exactly once).
 *   TTL 7 days.
 * - Carry `JOB#<jobId>` / `CARRY#<step>`: the entries after the last chunk cut of a listing step
 *   that ended mid-chunk; the next step starts its first chunk with them (TTL as chunks).
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet, batchWrite, isTransactionConditionFailure, queryPages, retryContention, transactWrite, updateIf, type Db } from './repo-common';
import { counterAddExpression, type JobCounters } from './repo-jobs';
import { packJson, unpackJson } from './packed-json';
import { CHUNK_SHARDS, CHUNK_TTL_SECONDS, syncKeys, ttlIn } from './sync-keys';


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
  // A retried chunk may plan while its earlier attempt's completion transaction holds the item.
  return retryContention(() => updateIf(db, {
    Key: syncKeys.chunk(jobId, n),
    UpdateExpression: 'SET #plan = :p',
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#plan)',
    ExpressionAttributeNames: { '#plan': `plan${index}` },
    ExpressionAttributeValues: { ':p': packJson(plan) },
  }));
}

/**
 * Marks the chunk done and adds its counters to the job in one transaction, so a retried chunk
 * never counts twice. Returns false when the chunk was already done (its condition failed: nothing
 * added). The job item is hot, so the transaction is often cancelled for a conflict (another
 * chunk's transaction, a listing step's update) or throttled: that adds nothing either and is
 * retried (transactWrite), never taken for "already done".
 */
export async function completeChunk(db: Db, jobId: string, n: number, delta: Partial<JobCounters>): Promise<boolean> {
  const { parts, names, values } = counterAddExpression(delta);
  try {
    await transactWrite(db, {
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
    });
    return true;
  } catch (e) {
    if (isTransactionConditionFailure(e)) return false;
    throw e;
  }
}

/** Chunks of a job that have an id plan but are not done (a chunk that never finished). */
export async function* unfinishedPlannedChunks(db: Db, jobId: string): AsyncGenerator<ChunkItem> {
  for (let shard = 0; shard < CHUNK_SHARDS; shard++) {
    const input = {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
      FilterExpression: 'attribute_exists(plan0) AND (attribute_not_exists(done) OR done = :f)',
      ExpressionAttributeValues: { ':pk': `JOB#${jobId}#C${shard}`, ':c': 'CHUNK#', ':f': false },
    };
    for await (const { items } of queryPages(db, input, 200)) for (const it of items) yield decodeChunk(it);
  }
}
