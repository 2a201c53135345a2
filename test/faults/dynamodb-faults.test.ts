/**
 * DynamoDB faults during sync and export, injected by an SDK middleware on the document client the
 * code under test uses (test/faults/fault-injector.ts: a fault injector in front of DynamoDB Local,
 * not a mock of the database):
 * - throttling (ProvisionedThroughputExceeded) and partially processed batches (UnprocessedItems)
 *   during an import sync through the real state machine: retried, every object becomes exactly
 *   one task;
 * - a sync chunk Lambda killed half way through its writes (after its first task batch landed)
 *   and retried by the state machine: no duplicate, no missing task;
 * - throttling while the stream export handler writes: every annotation reaches the target,
 *   failed records are redelivered (as the event source mapping does) and land once.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { processApp } from '../../shared/process-app';
import { reserveIds } from '../../shared/db/counters';
import { createAnnotation } from '../../shared/db/repo-annotations';
import type { AnnotationItem } from '../../shared/db/items';
import { exportDepsFromContext } from '../../shared/export/runtime';
import { exportObjectKey } from '../../shared/export/key';
import { processAnnotationRecords } from '../../shared/export/process-records';
import { loadStorageConfig } from '../../shared/api/storages';
import { testRegistry } from '../contract/helpers';
import type { StorageConfig } from '../../shared/storage/types';
import { client, type ApiHandler, patchApp } from '../integration/api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from '../integration/sync-helpers';
import { createProjectWithTask, createTarget, exportEnv, readObject, StreamTap, targetConfigs } from '../integration/export-helpers';
import { FaultGate, faultyDocumentClient, gatesBy, type DbCall, type FaultPlan, type FaultyClient } from './fault-injector';
const { getProvider } = testRegistry();

const em = inject('emulators');

describe('sync under DynamoDB faults', () => {
  let h: SyncHarness;
  let api: ReturnType<typeof client>;
  let faulty: FaultyClient;
  let realDb: ReturnType<typeof processApp>['db'];

  beforeAll(async () => {
    h = await startSyncHarness({ chunkSize: 25 });
    api = client(storagesHandler as unknown as ApiHandler, h.token);
    realDb = processApp().db;
    faulty = faultyDocumentClient({ endpoint: em.dynamodb.endpoint, region: em.dynamodb.region });
    patchApp({ db: { doc: faulty.doc, table: realDb.table } });
  }, 120_000);

  afterAll(async () => {
    patchApp({ db: realDb });
    await stopSyncHarness(h);
  });

  async function localStorage(n: number, prefix: string) {
    const dir = join(h.root, `${prefix}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(dir, `${prefix}${String(i).padStart(3, '0')}.json`), JSON.stringify({ image: `${prefix}${i}` }));
    const projectId = await newProject(h.orgId);
    const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, use_blob_urls: false } as StorageConfig);
    return { projectId, storage };
  }

  /** Seeds the storage with the faults off, then requests and runs its sync under `plan`. */
  async function syncUnder(n: number, prefix: string, plan: FaultPlan) {
    const { projectId, storage } = await localStorage(n, prefix);
    faulty.setPlan(plan);
    try {
      const r = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      expect(r.status, r.text).toBe(200);
      await h.starter.idle();
    } finally {
      faulty.setPlan(undefined);
    }
    const after = await storageOf(storage.id);
    const tasks = await tasksOf(projectId);
    return { after, tasks };
  }

  const writesTasks = (call: DbCall) => call.command === 'BatchWriteItem' && call.kinds.includes('task');

  it('throttled calls and half-processed batches are retried: every object becomes exactly one task', async () => {
    // Every sync makes these calls: its job, chunk and storage reads and writes, its task batches.
    // The first two calls of each command are throttled, the first three multi-item task batches
    // come back half unprocessed; then the gates close and the sync runs clean.
    const throttleGate = gatesBy(2);
    const halveGate = new FaultGate(3);
    const plan: FaultPlan = (call) => {
      if (writesTasks(call) && call.kinds.length > 1) return halveGate.pass() ? 'unprocessed' : undefined;
      if (['Query', 'GetItem', 'UpdateItem', 'PutItem', 'TransactWriteItems', 'BatchWriteItem'].includes(call.command)) {
        return throttleGate(call.command).pass() ? 'throttle' : undefined;
      }
      return undefined;
    };
    const before = { ...faulty.injected };
    const { after, tasks } = await syncUnder(120, 'thr', plan);
    expect(faulty.injected.throttle - before.throttle).toBeGreaterThan(3);
    expect(faulty.injected.unprocessed - before.unprocessed).toBeGreaterThan(0);
    expect({ status: after.status, traceback: after.traceback, count: after.last_sync_count }).toEqual({ status: 'completed', traceback: null, count: 120 });
    expect(tasks).toHaveLength(120);
    expect(new Set(tasks.map((t) => t.source!.key)).size).toBe(120);
  });

  it('a chunk killed after its first task batch landed is retried: no duplicate, no missing task', async () => {
    // The first BatchWriteItem carrying tasks is written, then the caller sees a crash.
    const killGate = new FaultGate(1);
    const before = faulty.injected.kill;
    const { after, tasks } = await syncUnder(100, 'kil', (call) => (writesTasks(call) && killGate.pass() ? 'kill' : undefined));
    expect(faulty.injected.kill - before).toBe(1);
    expect(after.status).toBe('completed');
    expect(tasks).toHaveLength(100);
    expect(new Set(tasks.map((t) => t.source!.key)).size).toBe(100);
  });
});

describe('stream export under DynamoDB throttling', () => {
  it('every annotation reaches the target once; records failed by throttling are redelivered and land', async () => {
    const env = exportEnv();
    const tap = new StreamTap();
    try {
      const faulty = faultyDocumentClient({ endpoint: em.dynamodb.endpoint, region: em.dynamodb.region });
      const { project, taskIds } = await createProjectWithTask(env);
      const configs = await targetConfigs(env, `faults-${project.id}`);
      const target = await createTarget(env, project.id, configs.localfiles);
      await tap.start();
      const ids: number[] = [];
      const anns: AnnotationItem[] = [];
      for (let i = 0; i < 24; i++) {
        const id = await reserveIds(env.db, 'annotation', 1);
        const now = new Date().toISOString();
        anns.push(
          await createAnnotation(env.db, {
            kind: 'annotation', id, taskId: taskIds[0], projectId: project.id, orgId: 'org-faults', result: [{ n: i }], completed_by: 1, ground_truth: false,
            lead_time: 1, was_cancelled: false, version: 1, created_at: now, updated_at: now,
          }),
        );
        ids.push(id);
      }
      const records = await tap.readFor(ids);
      expect(records).toHaveLength(24);
      // The export's own reads and writes (export links, storage status) go through the injector.
      const settings = { allowedEndpoints: ['127.0.0.1'], localFilesDocumentRoot: env.localRoot, maxReadBytes: 1 << 20, connectTimeoutMs: 1500, requestTimeoutMs: 5000 };
      const deps = exportDepsFromContext(
        { db: { doc: faulty.doc, table: env.db.table }, getProvider: (c: StorageConfig) => getProvider(c, { settings }) },
        (item) => loadStorageConfig(item, env.secretBox),
      );
      // The first call on each item (export link, storage status) is throttled, later ones pass.
      const perItem = gatesBy(1);
      faulty.setPlan((call) => (call.keys.filter((k) => perItem(k).pass()).length ? 'throttle' : undefined));
      let pending = records;
      let rounds = 0;
      while (pending.length && rounds < 6) {
        rounds++;
        const out = await processAnnotationRecords(deps, pending);
        const failed = new Set(out.failures);
        pending = pending.filter((r) => failed.has(r.dynamodb!.SequenceNumber!));
      }
      faulty.setPlan(undefined);
      expect(faulty.injected.throttle).toBeGreaterThan(5);
      expect(pending).toHaveLength(0);
      const config = await loadStorageConfig(target, env.secretBox);
      const provider = await env.providerOf(target);
      for (const a of anns) {
        const text = await readObject(provider, exportObjectKey(config, a.id));
        expect(text, `annotation ${a.id}`).toBeDefined();
        expect(JSON.parse(text!).result).toEqual(a.result);
      }
    } finally {
      tap.destroy();
    }
  });
});
