/**
 * Chunk digests (`SUM#<storageId>` / `D#<digest>`) and the last sync run of a storage
 * (`SUM#<storageId>` / `LAST`): what lets a re-sync skip chunks the previous clean job left
 * exactly as listed. TTL 90 days.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet, batchWrite, deletePartition, type Db } from './repo-common';
import { ttlIn } from './sync-keys';


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
