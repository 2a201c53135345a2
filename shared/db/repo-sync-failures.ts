/**
 * Per-object failures of a sync job: `JOB#<jobId>#FAIL` / `<chunk>#<i>`, the first
 * {@link MAX_FAILURES} of a job in chunk order (the job's `failed` counter stays exact).
 */
import { pad } from './keys';
import { batchWrite, queryPages, type Db } from './repo-common';
import { JOB_TTL_SECONDS, syncKeys, ttlIn } from './sync-keys';

/** Failures kept per job (meta shows them; the count is exact). */
export const MAX_FAILURES = 100;


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
  const input = {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': syncKeys.failures(jobId) },
    ProjectionExpression: '#k, reason',
    ExpressionAttributeNames: { '#k': 'key' },
  };
  for await (const { items } of queryPages(db, input, () => limit - out.length)) {
    for (const it of items) out.push({ key: String(it.key), reason: String(it.reason) });
    if (out.length >= limit) break;
  }
  return out;
}
