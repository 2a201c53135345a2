/**
 * Events benchmark (part of `npm run bench`, `BENCH_ONLY=events`). Starts its own DynamoDB Local
 * and S3 emulator, then measures in the same run, per backend (local files; S3 on s3rver):
 *
 * - a full sync of N objects (blob mode) through the real pipeline: the throughput events are
 *   compared with;
 * - a burst: the same N objects notified as object-created events to an event-synced storage of
 *   the same kind (local files: N new files written into the directory `npm start`'s watcher
 *   follows, local/event-subscribers.ts; S3: S3-shaped EventBridge events as SQS messages through
 *   the storage-events Lambda handler, in its event source mapping's batch size), until every
 *   task is readable;
 *   reported as events/s, its ratio to the sync's objects/s, and DynamoDB write calls per event;
 * - the lag of single objects: one object written, its event delivered, the task polled until
 *   readable; p50/p95 over `BENCH_EVENTS_LAG_SAMPLES` (default 20) objects.
 *
 * Targets: p95 lag < 2 s for a single object locally; burst throughput ≥ 0.8 of the same-run sync
 * throughput. Options: BENCH_EVENTS_N (default 10,000), BENCH_EVENTS_LAG_SAMPLES, BENCH_SKIP_S3=1.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import type { StorageItem } from '../shared/db/items';
import { target } from './targets';

export interface EventsBenchOptions {
  n?: number;
  lagSamples?: number;
  skipS3?: boolean;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WRITE_COMMANDS = new Set(['BatchWrite', 'Put', 'Update', 'Delete', 'TransactWrite']);

async function pool<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  for (const item of items) {
    const p = fn(item).finally(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

export async function run(opts: EventsBenchOptions = {}): Promise<void> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const n = opts.n ?? Number(process.env.BENCH_EVENTS_N ?? 10_000);
  const lagSamples = opts.lagSamples ?? Number(process.env.BENCH_EVENTS_LAG_SAMPLES ?? 20);
  const skipS3 = opts.skipS3 ?? process.env.BENCH_SKIP_S3 === '1';
  const { startEmulators, startDynamoDbLocal } = await import('../local/emulators');
  const ddb = await startDynamoDbLocal({ maxHeap: '4g' });
  const emus = skipS3 ? undefined : await startEmulators({ only: ['s3'] }).catch(async (e) => {
    await ddb.stop();
    throw e;
  });
  const work = mkdtempSync(join(tmpdir(), 'labelsync-bench-events-'));
  try {
    const table = 'labelsync-bench-events';
    Object.assign(process.env, {
      LABELSYNC_TABLE: table,
      LABELSYNC_DYNAMODB_ENDPOINT: ddb.endpoint,
      AWS_REGION: ddb.region,
      LABELSYNC_DATA_DIR: join(work, 'data'),
      LABELSYNC_ALLOWED_ENDPOINTS: '127.0.0.1,localhost',
      LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'true',
      LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true',
      LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: work,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    });
    const { LOCAL_SYNC_CONCURRENCY, LOCAL_SYNC_WRITE_CONCURRENCY } = await import('../local/state-machine-definition');
    process.env.LABELSYNC_SYNC_CONCURRENCY ||= String(LOCAL_SYNC_CONCURRENCY);
    process.env.LABELSYNC_SYNC_WRITE_CONCURRENCY ||= String(LOCAL_SYNC_WRITE_CONCURRENCY);
    const { createApp, withParts } = await import('../shared/app');
    const { installApp, processApp } = await import('../shared/process-app');
    const { ensureTable } = await import('../local/dynamodb-table');
    const raw = new DynamoDBClient({ endpoint: ddb.endpoint, region: ddb.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await ensureTable(raw, table);
    raw.destroy();
    const app = createApp(process.env);

    // DynamoDB write calls per phase, counted on the app's one document client.
    let writeCalls = 0;
    {
      const doc = app.db.doc as unknown as { send: (cmd: { constructor: { name: string } }, ...rest: unknown[]) => Promise<unknown> };
      const send = doc.send.bind(doc);
      doc.send = (cmd, ...rest) => {
        if (WRITE_COMMANDS.has(cmd.constructor.name.replace(/Command$/, ''))) writeCalls++;
        return send(cmd, ...rest);
      };
    }
    const { synthesizeStateMachine } = await import('../local/state-machine-definition');
    const { LocalStateMachine } = await import('../local/asl-runner');
    const { LocalSyncStarter } = await import('../local/sync-starter');
    const { definition } = await synthesizeStateMachine(ddb.region);
    const machine = new LocalStateMachine({ definition, region: ddb.region, log: () => {} });
    const starter = new LocalSyncStarter({ machine: async () => machine, maxConcurrent: 1, log: () => {} });
    installApp(withParts(app, { syncStarter: starter }));

    const { createOrgWithToken } = await import('../shared/api/tokens');
    const { nextId } = await import('../shared/db/counters');
    const { putProject, getProject } = await import('../shared/db/repo-projects');
    const { putStorage, getStorage } = await import('../shared/db/repo-storages');
    const { requestSync } = await import('../shared/sync/request-sync');
    const { SECRET_FIELDS } = await import('../shared/api/storage-schemas');
    const { maintainEventRoute } = await import('../shared/sync/object-events/routes');
    const { handler: s3EventsHandler } = await import('../functions/events/storage-events');
    const { STORAGE_EVENTS_BATCH_SIZE } = await import('../lib/constructs/storage-events');
    const { orgId } = await createOrgWithToken(app.db, 'bench-events');

    const newStorage = async (config: Record<string, unknown> & { type: 'localfiles' | 's3' }) => {
      const projectId = await nextId(app.db, 'project');
      const now = new Date().toISOString();
      await putProject(app.db, { kind: 'project', id: projectId, orgId, title: `bench ${projectId}`, description: '', label_config: '<View><Image name="i" value="$image"/></View>', data_keys: ['image'], created_at: now, updated_at: now });
      const id = await nextId(app.db, 'storage');
      const secretNames = new Set<string>(SECRET_FIELDS[config.type]);
      const fields: Record<string, unknown> = {};
      const secrets: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(config)) if (k !== 'type') (secretNames.has(k) ? secrets : fields)[k] = v;
      const item: StorageItem = {
        kind: 'storage', id, projectId, orgId, type: config.type, role: 'import', fields,
        ...(Object.keys(secrets).length ? { secrets: await app.secretBox.encrypt(JSON.stringify(secrets)) } : {}),
        status: 'initialized', last_sync: null, last_sync_count: null, last_sync_job: null, traceback: null, meta: {}, synchronizable: true, created_at: now, updated_at: now,
      };
      await putStorage(app.db, item);
      // As the storage API does: the bucket's routing item, which the S3 event handler looks storages up by.
      await maintainEventRoute(app.db, item);
      return { id, projectId };
    };
    let subscribers: import('../local/event-subscribers').EventSubscribers | undefined;
    const taskCount = async (projectId: number) => (await getProject(app.db, projectId))?.task_number ?? 0;
    const waitForTasks = async (projectId: number, want: number, deadlineMs: number) => {
      const until = Date.now() + deadlineMs;
      for (;;) {
        const have = await taskCount(projectId);
        if (have >= want) return;
        if (Date.now() > until) throw new Error(`project ${projectId}: ${have} of ${want} tasks after ${deadlineMs} ms`);
        await sleep(have ? 20 : 5);
      }
    };

    /** Full sync throughput of `config` (objects/s), blob mode. */
    const fullSync = async (label: string, config: Record<string, unknown> & { type: 'localfiles' | 's3' }, count: number) => {
      const s = await newStorage({ ...config, use_blob_urls: true });
      writeCalls = 0;
      const t0 = performance.now();
      await requestSync(processApp().requestSyncDeps(), (await getStorage(app.db, s.id))!);
      await starter.idle();
      const seconds = (performance.now() - t0) / 1000;
      const after = (await getStorage(app.db, s.id))!;
      if (after.status !== 'completed' || (await taskCount(s.projectId)) !== count) throw new Error(`${label} sync ended ${after.status} with ${await taskCount(s.projectId)} tasks`);
      log(`  ${label.padEnd(10)} full sync     ${count} objects ${seconds.toFixed(1)} s ${Math.round(count / seconds)} obj/s, ${(writeCalls / count).toFixed(2)} write calls per object`);
      return count / seconds;
    };

    /**
     * The burst and the lag of one backend: `burst(storageId, keys)` makes the notifications of
     * `keys` happen the way the backend does, `single(storageId, key)` writes one new object and
     * notifies it; both resolve when handed over (not applied).
     */
    const measure = async (
      label: string,
      config: Record<string, unknown> & { type: 'localfiles' | 's3' },
      keys: string[],
      syncRate: number,
      burst: (storageId: number, keys: string[]) => Promise<void>,
      single: (storageId: number, key: string) => Promise<void>,
    ) => {
      const s = await newStorage({ ...config, use_blob_urls: true, event_sync: true });
      await subscribers?.refresh();
      writeCalls = 0;
      const t0 = performance.now();
      await burst(s.id, keys);
      await waitForTasks(s.projectId, keys.length, 600_000);
      const seconds = (performance.now() - t0) / 1000;
      const rate = keys.length / seconds;
      const perEvent = writeCalls / keys.length;
      log(`  ${label.padEnd(10)} event burst   ${keys.length} events ${seconds.toFixed(1)} s ${Math.round(rate)} events/s, ${perEvent.toFixed(3)} write calls per event, ${(rate / syncRate).toFixed(2)} of sync`);
      target({ name: `event burst throughput, ${label} ${keys.length}`, figure: `${Math.round(rate)} events/s, ${(rate / syncRate).toFixed(2)} of sync; ${perEvent.toFixed(3)} write calls/event`, limit: `≥ 0.8 of full sync ${Math.round(syncRate)} obj/s, same run`, met: rate / syncRate >= 0.8 }, log);
      const lags: number[] = [];
      for (let i = 0; i < lagSamples; i++) {
        const key = `lag/${label}-${i}.png`;
        const before = await taskCount(s.projectId);
        const t = performance.now();
        await single(s.id, key);
        await waitForTasks(s.projectId, before + 1, 30_000);
        lags.push(performance.now() - t);
      }
      const p50 = percentile(lags, 50);
      const p95 = percentile(lags, 95);
      log(`  ${label.padEnd(10)} single-object lag: p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms over ${lags.length} objects (written → task readable)`);
      target({ name: `single-object lag p95, ${label}`, figure: `${(p95 / 1000).toFixed(2)} s (p50 ${(p50 / 1000).toFixed(2)} s)`, limit: '< 2 s', met: p95 < 2000 }, log);
    };

    log(`events bench: N=${n} per backend, ${lagSamples} lag samples; chunk ${app.env.syncChunkSize}`);
    const name = (i: number) => `d${String(Math.floor(i / 1000)).padStart(3, '0')}/f${String(i).padStart(6, '0')}.png`;
    const keys = range(n).map(name);

    // Local files.
    const dir = join(work, 'files');
    for (let d = 0; d * 1000 < n; d++) mkdirSync(join(dir, `d${String(d).padStart(3, '0')}`), { recursive: true });
    mkdirSync(join(dir, 'lag'), { recursive: true });
    await pool(range(n), 32, (i) => writeFile(join(dir, name(i)), 'x'));
    const local = { type: 'localfiles' as const, path: dir, recursive_scan: true };
    const localRate = await fullSync('localfiles', local, n);
    // The event-synced storage watches a directory of its own: the burst is N new files written into it.
    const watched = join(work, 'watched');
    for (let d = 0; d * 1000 < n; d++) mkdirSync(join(watched, `d${String(d).padStart(3, '0')}`), { recursive: true });
    mkdirSync(join(watched, 'lag'), { recursive: true });
    const { startEventSubscribers } = await import('../local/event-subscribers');
    subscribers = startEventSubscribers({ app: processApp, log: (m) => log(`  ${m}`) });
    const writeWatched = (key: string) => writeFile(join(watched, key), 'x');
    await measure('localfiles', { ...local, path: watched }, keys, localRate, (_id, ks) => pool(ks, 32, writeWatched), (_id, key) => writeWatched(key));

    if (!skipS3) {
      const s3 = emus!.endpoints.s3!;
      const { createEmulatorS3Client } = await import('../test/emulators/s3-client');
      const c = createEmulatorS3Client(s3);
      const bucket = 'bench-events';
      await c.send(new CreateBucketCommand({ Bucket: bucket }));
      const put = (key: string) => c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' })).then(() => undefined);
      await pool(keys, 16, put);
      const s3Config = { type: 's3' as const, bucket, s3_endpoint: s3.endpoint, region_name: s3.region, aws_access_key_id: s3.accessKeyId, aws_secret_access_key: s3.secretAccessKey, recursive_scan: true };
      const s3Rate = await fullSync('s3', s3Config, n);
      const deliver = s3Delivery(bucket);
      await measure('s3', s3Config, keys, s3Rate, deliver, async (id, key) => {
        await put(key);
        await deliver(id, [key]);
      });
      c.destroy();
    }
    await subscribers?.stop();
    await starter.stop();
    installApp(undefined);

    /**
     * S3: EventBridge "Object Created" events as SQS messages, in the event source mapping's
     * batches, through the storage-events Lambda handler; as many batches at once as the sync's Map
     * writes chunks, so both sides get the same parallelism.
     */
    function s3Delivery(bucket: string): (storageId: number, keys: string[]) => Promise<void> {
      let seq = 0;
      const message = (key: string) => ({
        messageId: `m${seq}`,
        body: JSON.stringify({
          version: '0', id: `e${seq}`, 'detail-type': 'Object Created', source: 'aws.s3', account: '000000000000', time: new Date().toISOString(), region: 'us-east-1',
          detail: { version: '0', bucket: { name: bucket }, object: { key, size: 1, sequencer: (seq++).toString(16).toUpperCase().padStart(18, '0') }, reason: 'PutObject' },
        }),
      });
      return async (_storageId, ks) => {
        const batches = range(Math.ceil(ks.length / STORAGE_EVENTS_BATCH_SIZE)).map((b) => ks.slice(b * STORAGE_EVENTS_BATCH_SIZE, (b + 1) * STORAGE_EVENTS_BATCH_SIZE));
        await pool(batches, Number(process.env.LABELSYNC_SYNC_CONCURRENCY), async (batch) => {
          const res = await s3EventsHandler({ Records: batch.map(message) } as unknown as SQSEvent, {} as Context);
          if (res.batchItemFailures.length) throw new Error(`${res.batchItemFailures.length} of ${batch.length} S3 event messages failed`);
        });
      };
    }
  } finally {
    await emus?.stop();
    await ddb.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
