/**
 * Import syncs through the real state machine on a document client with the AWS-strict DynamoDB
 * middleware (shared/db/strict-middleware.ts), under the two failure modes DynamoDB Local never
 * shows:
 * - transaction conflicts on the hot job item: chunk completions (transactions) of many chunks
 *   in parallel, listing counts and the progress mirror (plain updates) on the same item, with
 *   each transaction holding its locks 5 ms longer so that they overlap;
 * - a throttle storm: 30% of all attempts throttled, 30% of batches half processed.
 * Both must end with every counter exact: no chunk's counters skipped, nothing counted twice.
 * The client keeps the service's attempts per call (SDK_MAX_ATTEMPTS) but retries after 5–25 ms
 * instead of the SDK's throttling backoff (about 1 s, doubling), so a storm takes seconds here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { processApp } from '../../shared/process-app';
import { createDocumentClient, SDK_MAX_ATTEMPTS } from '../../shared/db/client';
import { getJob } from '../../shared/db/repo-jobs';
import { installStrictMiddleware, type StrictDbOptions, type StrictDbStats } from '../../shared/db/strict-middleware';
import type { StorageConfig } from '../../shared/storage/types';
import { client, type ApiHandler, patchApp } from '../integration/api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from '../integration/sync-helpers';

const em = inject('emulators');

type Token = { getRetryCount(): number; getRetryDelay(): number };
const token = (n: number): Token => ({ getRetryCount: () => n, getRetryDelay: () => 5 + Math.random() * 20 });
/** The SDK's retry decisions (throttling and transient errors, SDK_MAX_ATTEMPTS in all) with short delays. */
const quickRetries = {
  acquireInitialRetryToken: async () => token(0),
  refreshRetryTokenForRetry: async (t: Token, info: { errorType: string }) => {
    if (!['THROTTLING', 'TRANSIENT'].includes(info.errorType) || t.getRetryCount() + 1 >= SDK_MAX_ATTEMPTS) throw new Error('no retry');
    return token(t.getRetryCount() + 1);
  },
  recordSuccess: () => {},
};

describe('sync on AWS-strict DynamoDB', () => {
  let h: SyncHarness;
  let api: ReturnType<typeof client>;
  let realDb: ReturnType<typeof processApp>['db'];

  beforeAll(async () => {
    h = await startSyncHarness({ chunkSize: 50, concurrency: 8 });
    api = client(storagesHandler as unknown as ApiHandler, h.token);
    realDb = processApp().db;
  }, 120_000);

  afterAll(async () => {
    patchApp({ db: realDb });
    await stopSyncHarness(h);
  });

  /** Seeds `n` task files, then syncs them with the app on a strict client configured by `opts`. */
  async function strictSync(n: number, prefix: string, opts: Partial<StrictDbOptions>): Promise<{ stats: StrictDbStats; projectId: number; storageId: number }> {
    const dir = join(h.root, `${prefix}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(dir, `${prefix}${String(i).padStart(5, '0')}.json`), JSON.stringify({ image: `${prefix}${i}` }));
    const projectId = await newProject(h.orgId);
    const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, use_blob_urls: false } as StorageConfig);
    const doc = createDocumentClient({ endpoint: em.dynamodb.endpoint, region: em.dynamodb.region, retryStrategy: quickRetries });
    const stats = installStrictMiddleware(doc, { throttleRate: 0, holdMs: 0, ...opts });
    patchApp({ db: { doc, table: realDb.table } });
    try {
      const r = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      expect(r.status, r.text).toBe(200);
      await h.starter.idle();
    } finally {
      patchApp({ db: realDb });
    }
    return { stats, projectId, storageId: storage.id };
  }

  /** The storage completed and the job's counters, the storage's count and the tasks all say `n`. */
  async function expectExact(n: number, projectId: number, storageId: number) {
    const after = await storageOf(storageId);
    expect({ status: after.status, traceback: after.traceback, count: after.last_sync_count }).toEqual({ status: 'completed', traceback: null, count: n });
    const job = await getJob(realDb, String(after.last_sync_job));
    expect(job).toMatchObject({ listed: n, processed: n, created: n, failed: 0, listDone: true });
    const tasks = await tasksOf(projectId);
    expect(tasks).toHaveLength(n);
    expect(new Set(tasks.map((t) => t.source!.key)).size).toBe(n);
  }

  it('conflicting chunk completions on the job item: every chunk is counted exactly once', async () => {
    const n = 1_000;
    const { stats, projectId, storageId } = await strictSync(n, 'cfl', { holdMs: 5 });
    expect(stats.cancelled + stats.conflicts, 'transactions and plain writes on the job item really overlapped').toBeGreaterThan(0);
    await expectExact(n, projectId, storageId);
  }, 120_000);

  it('a throttle storm (30% of attempts): the sync completes with exact counts', async () => {
    const n = 600;
    const { stats, projectId, storageId } = await strictSync(n, 'thr', { throttleRate: 0.3 });
    expect(stats.throttled).toBeGreaterThan(50);
    expect(stats.unprocessed).toBeGreaterThan(0);
    await expectExact(n, projectId, storageId);
  }, 120_000);
});
