/**
 * Export benchmark, one run, on the local runtime (`startRuntime`: DynamoDB Local's stream → the
 * stream poller → the real export handler; sync through the real state machine on the local ASL
 * runner) and the S3 emulator:
 * - latency p50/p95 from "annotation saved" (its DynamoDB write returned) to "object visible" in a
 *   local-files target (the file exists) — the local user's experience (target: every one ≤ 2 s);
 * - export-sync throughput (annotations/s) into a local-files target and an S3 target, each next
 *   to the raw write rate of that target measured in the same run (same documents, same
 *   concurrency, straight through the provider: no table reads, no version guard).
 * `run(opts)` is called by bench/index.ts; `tsx bench/export.ts` runs it alone.
 */
import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { processApp } from '../shared/process-app';
import { nextId, reserveIds } from '../shared/db/counters';
import type { AnnotationItem, StorageItem, TaskItem } from '../shared/db/items';
import { createAnnotation, putAnnotations } from '../shared/db/repo-annotations';
import { putProject } from '../shared/db/repo-projects';
import { getStorage, putStorage } from '../shared/db/repo-storages';
import { putTasks } from '../shared/db/repo-tasks';
import { loadStorageConfig } from '../shared/api/storages';
import { buildExportDocument, serializeExportDocument } from '../shared/export/content';
import { exportObjectKey } from '../shared/export/key';
import { mapLimit } from '../shared/storage/common';
import { createS3Client } from '../shared/storage/providers/s3';
import type { StorageConfig } from '../shared/storage/types';
import { requestSync } from '../shared/sync/request-sync';
import { startEmulators, type EmulatorEndpoints } from '../local/emulators';
import { startRuntime } from '../local/runtime';
import { runWhenMain } from './run-alone';
import { target } from './targets';

export interface ExportBenchOptions {
  /** Reuse running emulators (else S3 and DynamoDB Local are started and stopped here). */
  emulators?: Pick<EmulatorEndpoints, 's3' | 'dynamodb'>;
  /** Annotations saved one by one for the latency figure. @default 100 */
  latencySamples?: number;
  /** Annotations of the project exported by the local-files sync. @default 10000 */
  syncAnnotations?: number;
  /** Annotations exported by the S3 sync (the emulator writes ~800 objects/s). @default 3000 */
  s3SyncAnnotations?: number;
  log?: (line: string) => void;
}

export interface ExportBenchResult {
  latencyMs: { p50: number; p95: number; max: number; samples: number };
  sync: Record<'localfiles' | 's3', { annotations: number; perSecond: number; rawPerSecond: number; ratio: number }>;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the benchmark and prints one line per figure. */
export async function run(opts: ExportBenchOptions = {}): Promise<ExportBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const own = opts.emulators ? undefined : await startEmulators({ only: ['s3', 'dynamodb'] });
  const em = (opts.emulators ?? own!.endpoints) as Pick<EmulatorEndpoints, 's3' | 'dynamodb'>;
  const dataDir = await mkdtemp(join(tmpdir(), 'labelsync-bench-export-'));
  const root = await mkdtemp(join(tmpdir(), 'labelsync-bench-export-root-'));
  process.env.LABELSYNC_ALLOWED_ENDPOINTS = '127.0.0.1,localhost';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  const runtime = await startRuntime({
    port: 0, dataDir, dynamodbEndpoint: em.dynamodb.endpoint, tableName: `bench-export-${Date.now()}`, streamStartingPosition: 'LATEST', log: () => undefined,
  });
  try {
    const app = processApp();
    const db = app.db;
    const orgId = 'bench-export';
    const now = new Date().toISOString();

    const project = async () => {
      const id = await nextId(db, 'project');
      await putProject(db, { kind: 'project', id, orgId, title: `bench-${id}`, description: '', label_config: '<View><Image name="i" value="$image"/></View>', data_keys: ['image'], created_at: now, updated_at: now });
      return id;
    };
    const tasks = async (projectId: number, n: number): Promise<TaskItem[]> => {
      const first = await reserveIds(db, 'task', n);
      const items: TaskItem[] = Array.from({ length: n }, (_, i) => ({
        kind: 'task', id: first + i, projectId, orgId, data: { $undefined$: `s3://media/img-${i}.jpg` }, is_labeled: true, total_annotations: 1,
        cancelled_annotations: 0, total_predictions: 0, created_at: now, updated_at: now,
      }));
      await putTasks(db, items);
      return items;
    };
    const annotation = (id: number, t: TaskItem): AnnotationItem => ({
      kind: 'annotation', id, taskId: t.id, projectId: t.projectId, orgId, completed_by: 1, ground_truth: false, lead_time: 3.2, was_cancelled: false, version: 1,
      result: [{ id: `r${id}`, from_name: 'label', to_name: 'i', type: 'rectanglelabels', value: { x: 10, y: 20, width: 30, height: 40, rectanglelabels: ['Car'] } }],
      created_at: now, updated_at: now,
    });
    const storage = async (projectId: number, config: StorageConfig): Promise<StorageItem> => {
      const { type, role, aws_access_key_id, aws_secret_access_key, ...fields } = config;
      const secrets = aws_access_key_id ? await app.secretBox.encrypt(JSON.stringify({ aws_access_key_id, aws_secret_access_key })) : undefined;
      const item: StorageItem = {
        kind: 'storage', id: await nextId(db, 'storage'), projectId, orgId, type, role, fields, ...(secrets ? { secrets } : {}), status: 'initialized',
        last_sync: null, last_sync_count: null, last_sync_job: null, traceback: null, meta: {}, synchronizable: true, created_at: now, updated_at: now,
      };
      await putStorage(db, item);
      return item;
    };

    // 1. Latency: saved → visible, through the stream poller and the export handler.
    const latencyProject = await project();
    const latencyDir = join(root, 'latency');
    await mkdir(latencyDir, { recursive: true });
    await storage(latencyProject, { type: 'localfiles', role: 'export', path: latencyDir });
    const [lt] = await tasks(latencyProject, 1);
    const samples: number[] = [];
    const n = opts.latencySamples ?? 100;
    for (let i = 0; i < n; i++) {
      const a = annotation(await nextId(db, 'annotation'), lt);
      await createAnnotation(db, a);
      const saved = performance.now();
      const file = join(latencyDir, String(a.id));
      for (;;) {
        if (await stat(file).then(() => true, () => false)) break;
        if (performance.now() - saved > 30_000) throw new Error('annotation did not appear within 30 s');
        await sleep(2);
      }
      samples.push(performance.now() - saved);
    }
    samples.sort((x, y) => x - y);
    const latencyMs = { p50: pct(samples, 50), p95: pct(samples, 95), max: samples[samples.length - 1], samples: n };
    log(`export: saved → visible (local files, stream poller) p50 ${latencyMs.p50.toFixed(0)} ms, p95 ${latencyMs.p95.toFixed(0)} ms, max ${latencyMs.max.toFixed(0)} ms (${n} annotations)`);
    target({ name: 'export: saved → visible, local-files target', figure: `max ${latencyMs.max.toFixed(0)} ms (p95 ${latencyMs.p95.toFixed(0)} ms)`, limit: `≤ 2,000 ms for every one of ${n} annotations`, met: latencyMs.max <= 2_000 }, log);

    // 2. Export sync throughput vs the raw write rate of the same target.
    const bucket = `bench-export-${Date.now().toString(36)}`;
    const s3 = createS3Client({
      type: 's3', bucket, recursive: true, region: em.s3.region, endpoint: em.s3.endpoint,
      credentials: { accessKeyId: em.s3.accessKeyId, secretAccessKey: em.s3.secretAccessKey }, maxReadBytes: 1, connectTimeoutMs: 3000, requestTimeoutMs: 60_000,
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    const targets: Record<'localfiles' | 's3', (p: number) => StorageConfig> = {
      localfiles: (p) => ({ type: 'localfiles', role: 'export', path: join(root, `sync-${p}`) }),
      s3: (p) => ({
        type: 's3', role: 'export', bucket, prefix: `sync-${p}`, s3_endpoint: em.s3.endpoint, region_name: em.s3.region,
        aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey,
      }),
    };
    const sync = {} as ExportBenchResult['sync'];
    await runtime.stateMachine(); // synthesized once (CDK) before timing, as `npm start` preloads it
    for (const type of ['localfiles', 's3'] as const) {
      const count = type === 's3' ? (opts.s3SyncAnnotations ?? 3000) : (opts.syncAnnotations ?? 10_000);
      const pid = await project();
      const ts = await tasks(pid, Math.ceil(count / 2));
      const firstAnn = await reserveIds(db, 'annotation', count);
      const anns = Array.from({ length: count }, (_, i) => annotation(firstAnn + i, ts[Math.floor(i / 2)]));
      await putAnnotations(db, anns);
      await runtime.poller?.drained(120_000); // the stream of the seeding is handled before timing
      const config = targets[type](pid);
      if (type === 'localfiles') await mkdir(String(config.path), { recursive: true });
      const item = await storage(pid, config);

      const t0 = performance.now();
      await requestSync(app.requestSyncDeps(), item);
      let done = (await getStorage(db, item.id))!;
      while (!['completed', 'completed_with_errors', 'failed'].includes(done.status)) {
        if (performance.now() - t0 > 600_000) throw new Error(`${type} export sync did not finish within 10 min`);
        await sleep(50);
        done = (await getStorage(db, item.id))!;
      }
      const secs = (performance.now() - t0) / 1000;
      if (done.status !== 'completed' || done.last_sync_count !== count) {
        throw new Error(`${type} export sync ended ${done.status} with ${done.last_sync_count}/${count}: ${done.traceback ?? ''}`);
      }

      // Raw: the same documents straight through the provider, same concurrency as the chunk writer.
      if (type === 'localfiles') await mkdir(join(root, `raw-${pid}`), { recursive: true });
      const provider = await app.getProvider({ ...(await loadStorageConfig(done, app.secretBox)), prefix: `raw-${pid}`, ...(type === 'localfiles' ? { path: join(root, `raw-${pid}`) } : {}) });
      const byTask = new Map(ts.map((t) => [t.id, t]));
      const rawConfig = { type } as StorageConfig;
      const r0 = performance.now();
      await mapLimit(anns, 16, async (a) => {
        const body = serializeExportDocument(buildExportDocument({ annotation: a, task: byTask.get(a.taskId)!, project: { id: pid, data_keys: ['image'] } }, new Date()), type);
        await provider.write(exportObjectKey(rawConfig, a.id), body, { contentType: 'application/json' });
      });
      const rawSecs = (performance.now() - r0) / 1000;
      const perSecond = count / secs;
      const rawPerSecond = count / rawSecs;
      sync[type] = { annotations: count, perSecond, rawPerSecond, ratio: perSecond / rawPerSecond };
      log(
        `export: sync to ${type} ${perSecond.toFixed(0)} annotations/s (${count} in ${secs.toFixed(1)} s, state machine end to end) ` +
          `vs raw ${type} writes ${rawPerSecond.toFixed(0)}/s (ratio ${(perSecond / rawPerSecond).toFixed(2)})`,
      );
    }
    return { latencyMs, sync };
  } finally {
    await runtime.stop();
    await own?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, () => run());
