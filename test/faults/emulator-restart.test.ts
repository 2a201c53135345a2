/**
 * The storage emulator stops in the middle of a sync and comes back. A dedicated s3rver instance
 * (local/emulators, its own port and directory) is used so the shared one is not disturbed. The
 * sync runs through the storages API and the real state machine on the local runner; after 40
 * object reads the emulator is stopped and restarted 1.5 s later on the same port and data.
 * The sync must either resume (completed) or end failed / completed_with_errors with a readable
 * traceback or failure list; the re-sync afterwards must end with exactly one task per object.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { processApp } from '../../shared/process-app';
import type { StorageConfig, StorageProvider } from '../../shared/storage/types';
import { startS3, type RunningS3 } from '../../local/emulators/s3';
import { createS3Buckets } from '../contract/helpers';
import { client, type ApiHandler, patchApp } from '../integration/api-harness';
import { newProject, newStorage, seed, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from '../integration/sync-helpers';

const OBJECTS = 150;
let h: SyncHarness;
let s3: RunningS3;
const dir = mkdtempSync(join(tmpdir(), 'labelsync-s3-restart-'));

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 20 });
  s3 = await startS3({ directory: dir });
  await createS3Buckets(s3.endpoint, s3, s3.region, ['restart']);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
  await s3?.stop();
});

describe('fault: the storage emulator stops mid-sync and comes back', () => {
  it('the sync resumes or fails readably; a re-sync then holds exactly one task per object', async () => {
    const config: StorageConfig = {
      type: 's3',
      role: 'import',
      bucket: 'restart',
      s3_endpoint: s3.endpoint,
      region_name: s3.region,
      aws_access_key_id: s3.accessKeyId,
      aws_secret_access_key: s3.secretAccessKey,
      use_blob_urls: false,
    };
    await seed(config, Object.fromEntries(Array.from({ length: OBJECTS }, (_, i) => [`o-${String(i).padStart(4, "0")}.json`, JSON.stringify({ image: `img${i}` })])));
    const projectId = await newProject(h.orgId);
    const storage = await newStorage(h.orgId, projectId, config);
    const api = client(storagesHandler as unknown as ApiHandler, h.token);

    const port = Number(new URL(s3.endpoint).port);
    let reads = 0;
    let outage: Promise<void> | undefined;
    let downFor = 0;
    const app = processApp();
    const real = app.getProvider;
    // Orchestration only: the real provider does every request; after 40 reads the real emulator
    // process-side server is stopped and started again on the same port and directory.
    patchApp({
      getProvider: async (c, opts) => {
        const p = await real(c, opts);
        if (opts?.noCache || c.s3_endpoint !== s3.endpoint) return p;
        return new Proxy(p, {
          get(target, prop, recv) {
            if (prop !== 'read') return Reflect.get(target, prop, recv);
            return async (...args: Parameters<StorageProvider['read']>) => {
              if (++reads === 40 && !outage) {
                const stoppedAt = Date.now();
                const old = s3;
                outage = old.stop().then(async () => {
                  await new Promise((r) => setTimeout(r, 1500));
                  s3 = await startS3({ port, directory: dir });
                  downFor = Date.now() - stoppedAt;
                });
              }
              return target.read(...args);
            };
          },
        });
      },
    });
    try {
      const r = await api('POST', `/api/storages/s3/${storage.id}/sync`);
      expect(r.status, r.text).toBe(200);
      await h.starter.idle();
      await outage;
    } finally {
      patchApp({ getProvider: real });
    }
    expect(reads).toBeGreaterThanOrEqual(40);
    expect(downFor).toBeGreaterThanOrEqual(1500);
    const first = await storageOf(storage.id);
    expect(['completed', 'completed_with_errors', 'failed']).toContain(first.status);
    if (first.status === 'failed') expect(first.traceback).toMatch(/^\w*Error: .*(connect|unreachable|ECONNREFUSED|socket|failed)/is);
    if (first.status === 'completed_with_errors') {
      expect(Number((first.meta as { objects_failed?: number }).objects_failed)).toBeGreaterThan(0);
      expect(first.traceback).toMatch(/could not connect|unreachable|ECONNREFUSED/);
    }
    let tasks = await tasksOf(projectId);
    // Whatever the first outcome, nothing is duplicated.
    expect(new Set(tasks.map((t) => t.source!.key)).size).toBe(tasks.length);

    const again = await api('POST', `/api/storages/s3/${storage.id}/sync`);
    expect(again.status, again.text).toBe(200);
    await h.starter.idle();
    const second = await storageOf(storage.id);
    expect({ status: second.status, traceback: second.traceback }).toEqual({ status: 'completed', traceback: null });
    tasks = await tasksOf(projectId);
    expect(tasks).toHaveLength(OBJECTS);
    expect(new Set(tasks.map((t) => t.source!.key)).size).toBe(OBJECTS);
    if (process.env.FAULTS_DEBUG) console.error({ first: { status: first.status, meta: first.meta, traceback: first.traceback?.slice(0, 200) }, downFor });
  });
});
