/**
 * Keys and lifetimes of the sync bookkeeping items (jobs, chunks, carries, failures, links,
 * tombstones), shared by the repositories of each concern.
 *
 * - Job `JOB#<jobId>` / `JOB`; carry `JOB#<jobId>` / `CARRY#<step>`.
 * - Chunk `JOB#<jobId>#C<n % 16>` / `CHUNK#<n>`: spread over 16 partition keys, because chunk
 *   items are up to 300 KB and each is rewritten by its plan and done updates.
 * - Failure `JOB#<jobId>#FAIL` / `<chunk>#<i>`.
 * - Link `LINK#<storageId>#<shard>` / `OBJ#<key>`: spread over {@link LINK_SHARDS} partitions by a
 *   hash of the key so a 10M-object sync never writes one partition key faster than its
 *   1,000 WCU/s (docs/scale.md); an ordered key range is then one Query per shard, in parallel.
 * - Tombstone `TOMB#<storageId>` / `OBJ#<key>` (ordered storages, whose links live in pages).
 */
import { pad } from './keys';

/** Partition keys the chunk items of one job are spread over (by chunk number). */
export const CHUNK_SHARDS = 16;
/** Link partitions per storage (hash of the object key). */
export const LINK_SHARDS = 16;
/** Lifetime of job and failure items. */
export const JOB_TTL_SECONDS = 30 * 24 * 3600;
/** Lifetime of chunk and carry items. */
export const CHUNK_TTL_SECONDS = 7 * 24 * 3600;

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

/** Key builders of the sync bookkeeping items (see the module comment for the layout). */
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

/** Epoch seconds `seconds` from now (a TTL attribute). */
export const ttlIn = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;
