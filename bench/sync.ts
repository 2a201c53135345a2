/**
 * Sync benchmark (part of `npm run bench`). Starts its own emulators (S3 + DynamoDB Local via
 * local/emulators), seeds N objects into local files and into the S3 emulator (nested keys: the
 * emulator's flat listing rescans from the start on every page), then measures in the same run:
 *
 * - the raw limit: list all keys + BatchWriteItem the task item the pipeline stores for each key
 *   (same data, `taskToItem`) straight into the pipeline's own table (same GSIs and stream), best
 *   of 8 and 16 concurrent writers; for JSON mode also GET each object (32 concurrent). Each raw
 *   limit runs right before the sync it is compared with (DynamoDB Local slows as its table grows);
 * - a full sync through the real pipeline (the synthesized state machine on the local ASL runner,
 *   the real handlers) in blob mode and in JSON mode;
 * - on S3, the blob sync again with one continuation token (LABELSYNC_LIST_PARTITIONS=1): the
 *   partitioned sync must be no slower and create exactly the same tasks (keys and data);
 * - an incremental re-sync of the unchanged JSON storage against a bare listing of the storage,
 *   five interleaved rounds, medians compared (BENCH_FAST: the blob storage, three rounds);
 * - as information: the earlier raw limit (one ~330-byte item with a gsi1 entry per key) and the
 *   per-object item set the pipeline had before link pages;
 * Every timed phase starts after a full garbage collection. It prints objects/s, the ratio to the
 * raw limit, the DynamoDB calls each phase made, the CPU each phase cost DynamoDB Local and this
 * process, and the peak RSS of this process (DynamoDB Local's JVM and the emulators are separate
 * processes and not included).
 *
 * Options (env or run(opts)): BENCH_N (default 100,000, local files), BENCH_S3_N (default
 * min(N, 10,000): seeding s3rver runs at a few hundred PUTs/s), BENCH_SKIP_S3=1,
 * LABELSYNC_SYNC_CHUNK_SIZE, BENCH_MAP_CONCURRENCY (default LABELSYNC_SYNC_CONCURRENCY, else the
 * local runtime's 4), BENCH_FAST=1 (blob phases only: no JSON; the unchanged re-sync, 3 rounds,
 * runs on the blob storage).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { target } from './targets';

export interface SyncBenchOptions {
  n?: number;
  s3N?: number;
  skipS3?: boolean;
  log?: (line: string) => void;
}

interface Row {
  storage: string;
  phase: string;
  objects: number;
  seconds: number;
  perSecond: number;
  ratio?: string;
  rssMb: number;
}

const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** CPU seconds used so far by a process (user + system, from /proc; undefined where there is none). */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** DynamoDB Local's pid, for the CPU each phase costs it (the emulator is the bound here). */
let ddbPid: number | undefined;

interface CpuSpent {
  ddb?: number;
  bench: number;
}

/** A full collection before each timed phase, so no phase pays for the garbage of the one before. */
const collectGarbage = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; cpu: CpuSpent }> {
  collectGarbage();
  const t = process.hrtime.bigint();
  const ddb0 = processCpuSeconds(ddbPid);
  const own0 = process.cpuUsage();
  const value = await fn();
  const own = process.cpuUsage(own0);
  const ddb1 = processCpuSeconds(ddbPid);
  return {
    value,
    seconds: Number(process.hrtime.bigint() - t) / 1e9,
    cpu: { ddb: ddb0 !== undefined && ddb1 !== undefined ? ddb1 - ddb0 : undefined, bench: (own.user + own.system) / 1e6 },
  };
}

async function pool<T>(items: AsyncIterable<T> | Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  for await (const item of items as AsyncIterable<T>) {
    const p = fn(item).finally(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
}

export async function run(opts: SyncBenchOptions = {}): Promise<Row[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const n = opts.n ?? Number(process.env.BENCH_N ?? 100_000);
  const s3N = opts.s3N ?? Number(process.env.BENCH_S3_N ?? Math.min(n, 10_000));
  const skipS3 = opts.skipS3 ?? process.env.BENCH_SKIP_S3 === '1';
  const { LOCAL_SYNC_CONCURRENCY, LOCAL_SYNC_WRITE_CONCURRENCY } = await import('../local/state-machine-definition');
  const mapConcurrency = Number(process.env.BENCH_MAP_CONCURRENCY || process.env.LABELSYNC_SYNC_CONCURRENCY || LOCAL_SYNC_CONCURRENCY);

  const { startEmulators, startDynamoDbLocal } = await import('../local/emulators');
  // DynamoDB Local on its own, for its pid (the CPU each phase costs the bound of this machine).
  const ddb = await startDynamoDbLocal({ maxHeap: '6g' });
  const emus = skipS3 ? undefined : await startEmulators({ only: ['s3'] }).catch(async (e) => {
    await ddb.stop();
    throw e;
  });
  const work = mkdtempSync(join(tmpdir(), 'labelsync-bench-'));
  const rows: Row[] = [];
  try {
    ddbPid = ddb.pid;
    const table = 'labelsync-bench';
    Object.assign(process.env, {
      LABELSYNC_TABLE: table,
      // The first listing step hands over 4× this many chunks: the same concurrency as the Map's.
      LABELSYNC_SYNC_CONCURRENCY: String(mapConcurrency),
      // As `npm start` runs it (the local runtime's default unless set).
      LABELSYNC_SYNC_WRITE_CONCURRENCY: process.env.LABELSYNC_SYNC_WRITE_CONCURRENCY || String(LOCAL_SYNC_WRITE_CONCURRENCY),
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
    const { createApp, withParts } = await import('../shared/app');
    const { installApp, processApp } = await import('../shared/process-app');
    const { ensureTable } = await import('../local/dynamodb-table');
    const raw = new DynamoDBClient({ endpoint: ddb.endpoint, region: ddb.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await ensureTable(raw, table);
    raw.destroy();

    const app = createApp(process.env);
    // DynamoDB calls per phase (what the pipeline spends per object): one shared document client.
    const calls = new Map<string, { calls: number; items: number }>();
    {
      const doc = app.db.doc as unknown as { send: (cmd: { constructor: { name: string }; input: Record<string, unknown> }, ...rest: unknown[]) => Promise<unknown> };
      const send = doc.send.bind(doc);
      doc.send = (cmd, ...rest) => {
        const name = cmd.constructor.name.replace(/Command$/, '');
        const c = calls.get(name) ?? { calls: 0, items: 0 };
        c.calls++;
        const ri = (cmd.input.RequestItems ?? {}) as Record<string, unknown[] | { Keys: unknown[] }>;
        for (const v of Object.values(ri)) c.items += Array.isArray(v) ? v.length : v.Keys.length;
        const ti = cmd.input.TransactItems as unknown[] | undefined;
        if (ti) c.items += ti.length;
        calls.set(name, c);
        return send(cmd, ...rest);
      };
    }
    const callSummary = (objects: number) => {
      const parts = [...calls].sort((a, b) => b[1].calls - a[1].calls).map(([k, v]) => `${k} ${v.calls}${v.items ? ` (${v.items} items)` : ''}`);
      calls.clear();
      return `DynamoDB calls for ${objects} objects: ${parts.join(', ')}`;
    };
    const { synthesizeStateMachine } = await import('../local/state-machine-definition');
    const { LocalStateMachine } = await import('../local/asl-runner');
    const { LocalSyncStarter } = await import('../local/sync-starter');
    const { definition } = await synthesizeStateMachine(ddb.region);
    (definition as unknown as { States: { Loop: { Branches: { States: { Write: { MaxConcurrency: number } } }[] } } }).States.Loop.Branches[1].States.Write.MaxConcurrency =
      mapConcurrency;
    const machine = new LocalStateMachine({ definition, region: ddb.region, log: (m) => log(`  [sfn] ${m.slice(0, 300)}`) });
    const starter = new LocalSyncStarter({ machine: async () => machine, maxConcurrent: 1, log: (m) => log(m) });
    installApp(withParts(app, { syncStarter: starter }));

    const { createOrgWithToken } = await import('../shared/api/tokens');
    const { nextId } = await import('../shared/db/counters');
    const { putProject, getProject } = await import('../shared/db/repo-projects');
    const { putStorage, getStorage } = await import('../shared/db/repo-storages');
    // The installed app's provider factory: the bench's environment allows the emulators' endpoints.
    const getProvider: import('../shared/context').GetProvider = (config, opts) => processApp().getProvider(config, opts);
    const { requestSync } = await import('../shared/sync/request-sync');
    const { SECRET_FIELDS } = await import('../shared/api/storage-schemas');
    const { linkShard } = await import('../shared/db/sync-keys');
    const { taskToItem } = await import('../shared/db/repo-tasks');
    const { uriFor } = await import('../shared/storage/registry');
    const { orgId } = await createOrgWithToken(app.db, 'bench');

    const newProject = async () => {
      const id = await nextId(app.db, 'project');
      const now = new Date().toISOString();
      await putProject(app.db, { kind: 'project', id, orgId, title: `bench ${id}`, description: '', label_config: '<View><Image name="i" value="$image"/></View>', data_keys: ['image'], created_at: now, updated_at: now });
      return id;
    };
    const newStorage = async (config: Record<string, unknown> & { type: 'localfiles' | 's3' }) => {
      const projectId = await newProject();
      const id = await nextId(app.db, 'storage');
      const secretNames = new Set<string>(SECRET_FIELDS[config.type]);
      const fields: Record<string, unknown> = {};
      const secrets: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(config)) if (k !== 'type' && k !== 'role') (secretNames.has(k) ? secrets : fields)[k] = v;
      const now = new Date().toISOString();
      await putStorage(app.db, {
        kind: 'storage', id, projectId, orgId, type: config.type, role: 'import', fields,
        ...(Object.keys(secrets).length ? { secrets: await app.secretBox.encrypt(JSON.stringify(secrets)) } : {}),
        status: 'initialized', last_sync: null, last_sync_count: null, last_sync_job: null, traceback: null, meta: {}, synchronizable: true, created_at: now, updated_at: now,
      });
      return { id, projectId };
    };
    const syncOnce = async (id: number) => {
      const s = (await getStorage(app.db, id))!;
      const r = await timed(async () => {
        await requestSync(processApp().requestSyncDeps(), s);
        await starter.idle();
      });
      const after = (await getStorage(app.db, id))!;
      if (after.status !== 'completed') throw new Error(`sync of storage ${id} ended ${after.status}: ${after.traceback}`);
      return { seconds: r.seconds, cpu: r.cpu, meta: after.meta as Record<string, number> };
    };

    /**
     * Raw floor: list all keys (+ optionally GET each) and batch-write one item per key into the
     * same table the pipeline writes (its GSIs and stream on). `shape: 'task'` (the raw limit)
     * writes exactly the task item the pipeline stores for the key (`taskToItem` of the same data:
     * the blob URL, or the parsed JSON file), so the ratio measures what the pipeline adds on top
     * of writing its tasks; `shape: 'small'` writes the ~330-byte item with a gsi1 entry that the
     * earlier figures used. `writers` concurrent BatchWriteItem calls; the caller keeps the best of 8 and 16.
     */
    let rawIds = 10_000_000_000;
    const rawRun = async (config: Record<string, unknown>, withGet: boolean, tag: string, writers_ = 8, pipelineItems = false, shape: 'task' | 'small' = 'task') => {
      const provider = await getProvider(config as never, { noCache: true });
      const now = new Date().toISOString();
      const blobUri = (key: string) => (config.type === 'localfiles' ? app.env.publicBaseUrl : '') + uriFor(config as never, key, app.env.localFilesDocumentRoot);
      let written = 0;
      const r = await timed(async () => {
        const batches: Record<string, unknown>[][] = [];
        let current: Record<string, unknown>[] = [];
        const writers = new Set<Promise<void>>();
        const flush = async (batch: Record<string, unknown>[]) => {
          let pending = batch.map((Item) => ({ PutRequest: { Item } }));
          for (let attempt = 0; pending.length && attempt < 10; attempt++) {
            try {
              const res = await app.db.doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
              pending = (res.UnprocessedItems?.[table] ?? []) as typeof pending;
            } catch (e) {
              // A loaded 2-core box can stall DynamoDB Local past the client's connect timeout.
              if (attempt === 9 || (e as Error).name !== 'TimeoutError') throw e;
            }
            if (pending.length) await sleep(20 * 2 ** attempt);
          }
          written += batch.length;
        };
        const emit = async (item: Record<string, unknown>) => {
          current.push(item);
          if (current.length === 25) {
            const b = current;
            current = [];
            const p = flush(b).finally(() => writers.delete(p));
            writers.add(p);
            if (writers.size >= writers_) await Promise.race(writers);
          }
        };
        const item = (key: string, i: number, body?: string) => {
          if (shape === 'small') {
            return { pk: `RAW#${tag}#${i}`, sk: 'TASK', gsi1pk: `RAW#${tag}#TASKS#${i % 16}`, gsi1sk: String(i).padStart(12, '0'), kind: 'raw', data: { image: key, body: (body ?? '').slice(0, 100) }, pad: 'x'.repeat(Math.max(0, 200 - key.length)) };
          }
          const id = rawIds++;
          let data: Record<string, unknown> = { image: blobUri(key) };
          if (body !== undefined) {
            const parsed = JSON.parse(body) as Record<string, unknown>;
            data = (parsed.data as Record<string, unknown>) ?? parsed;
          }
          return taskToItem({
            kind: 'task', id, projectId: 999_999, orgId, data, is_labeled: false, total_annotations: 0, cancelled_annotations: 0, total_predictions: 0,
            source: { storageId: 999_999, key, row_index: null }, created_at: now, updated_at: now,
          });
        };
        let i = 0;
        for await (const page of provider.list()) {
          if (pipelineItems) {
            // The pipeline's per-object items before link pages (not a target): a strongly
            // consistent BatchGet of the keys' links (by 100), then the task item and a link item per key.
            for (let o = 0; o < page.entries.length; o += 100) {
              const ks = page.entries.slice(o, o + 100).map((e) => ({ pk: `RAWLINK#${tag}#${linkShard(e.key)}`, sk: `OBJ#${e.key}` }));
              await app.db.doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: ks, ConsistentRead: true } } }));
            }
            for (const e of page.entries) {
              await emit(item(e.key, i++));
              await emit({ pk: `RAWLINK#${tag}#${linkShard(e.key)}`, sk: `OBJ#${e.key}`, kind: 'raw_link', etag: 'x', size: 50, rows: 1, idRanges: [[i, 1]], jobId: tag, updated_at: new Date().toISOString() });
            }
          } else if (!withGet) for (const e of page.entries) await emit(item(e.key, i++));
          else {
            await pool(page.entries, 32, async (e) => {
              const res = await provider.read(e.key);
              let body = '';
              for await (const c of res.body) body += c;
              await emit(item(e.key, i++, body));
            });
          }
        }
        if (current.length) batches.push(current);
        for (const b of batches) await flush(b);
        await Promise.all(writers);
      });
      await provider.close();
      return { seconds: r.seconds, cpu: r.cpu, written };
    };
    const bareList = async (config: Record<string, unknown>) => {
      const provider = await getProvider(config as never, { noCache: true });
      let count = 0;
      const r = await timed(async () => {
        for await (const page of provider.list()) count += page.entries.length;
      });
      await provider.close();
      return { seconds: r.seconds, cpu: r.cpu, count };
    };

    const add = (storage: string, phase: string, objects: number, seconds: number, ratio?: string, cpu?: CpuSpent) => {
      const row = { storage, phase, objects, seconds: Math.round(seconds * 10) / 10, perSecond: Math.round(objects / seconds), ratio, rssMb: rssMb() };
      rows.push(row);
      const cpuText = cpu ? ` cpu: DynamoDB Local ${cpu.ddb?.toFixed(1) ?? '?'} s, bench ${cpu.bench.toFixed(1)} s` : '';
      log(`  ${storage.padEnd(11)} ${phase.padEnd(26)} ${String(objects).padStart(8)} obj ${row.seconds.toFixed(1).padStart(7)} s ${String(row.perSecond).padStart(7)} obj/s ${(ratio ?? '').padEnd(26)} rss ${row.rssMb} MB${cpuText}`);
    };

    /** A project's tasks as (source key → data) lines, sorted: what two syncs of one storage must agree on. */
    const taskSet = async (projectId: number): Promise<string[]> => {
      const out: string[] = [];
      const { listProjectTasks } = await import('../shared/db/repo-tasks');
      let afterId: number | undefined;
      for (;;) {
        const page = await listProjectTasks(app.db, projectId, { afterId, limit: 1000 });
        for (const t of page.items) out.push(`${t.source?.key}\t${JSON.stringify(t.data)}`);
        if (!page.hasMore || !page.items.length) return out.sort();
        afterId = page.items[page.items.length - 1].id;
      }
    };
    /**
     * The same blob sync with one continuation token (LABELSYNC_LIST_PARTITIONS=1) against the
     * partitioned one just run: no slower, and exactly the same tasks.
     */
    const partitionsCompared = async (base: Record<string, unknown> & { type: 's3' }, count: number, partitionedSeconds: number, partitionedProject: number) => {
      installApp(withParts(app, { syncStarter: starter, db: app.db }, { LABELSYNC_LIST_PARTITIONS: '1' }));
      try {
        const one = await newStorage({ ...base, use_blob_urls: true });
        const r = await syncOnce(one.id);
        add('s3', 'sync blob, 1 partition', count, r.seconds, `partitioned (${app.env.listPartitions}) ${(r.seconds / partitionedSeconds).toFixed(2)}× faster`, r.cpu);
        target({ name: `sync blob, s3 ${count}, ${app.env.listPartitions} partitions against 1`, figure: `${partitionedSeconds.toFixed(1)} s against ${r.seconds.toFixed(1)} s`, limit: 'no slower (≤ 1.05×, same run)', met: partitionedSeconds <= r.seconds * 1.05 }, log);
        const [a, b] = await Promise.all([taskSet(partitionedProject), taskSet(one.projectId)]);
        const same = a.length === count && a.length === b.length && a.every((x, i) => x === b[i]);
        target({ name: `sync blob, s3 ${count}: the same tasks with ${app.env.listPartitions} partitions and 1`, figure: same ? `${a.length} identical` : `DIFFERENT (${a.length} against ${b.length})`, limit: 'identical', met: same }, log);
      } finally {
        installApp(withParts(app, { syncStarter: starter }));
      }
    };

    /** Unchanged re-syncs of `storageId` against bare listings of `base`, `rounds` interleaved. */
    const resyncRounds = async (label: string, base: Record<string, unknown>, storageId: number, count: number, rounds: number) => {
      // Unchanged re-sync against a bare listing: both take about a second, so one sample of each
      // is at the mercy of the page cache and the scheduler (single samples ranged 0.82–1.24 s for
      // the listing). Interleaved rounds; medians compared.
      const lists: number[] = [];
      const resyncs: number[] = [];
      let again: Awaited<ReturnType<typeof syncOnce>> | undefined;
      // The first round's calls are the re-sync's alone.
      calls.clear();
      for (let round = 0; round < rounds; round++) {
        again = await syncOnce(storageId);
        if (round === 0) log(`  ${label.padEnd(11)} re-sync ${callSummary(count)}`);
        if (again.meta.tasks_created !== 0 || again.meta.objects_unchanged !== count) throw new Error(`${label} re-sync changed something: ${JSON.stringify(again.meta)}`);
        resyncs.push(again.seconds);
        lists.push((await bareList(base)).seconds);
      }
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
      const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
      add(label, `bare listing (median of ${rounds})`, count, median(lists), `runs ${fmt(lists)} s`);
      add(label, 're-sync unchanged (median)', count, median(resyncs), `${(median(resyncs) / median(lists)).toFixed(2)}× listing (target ≤ 1.5); runs ${fmt(resyncs)} s`, again!.cpu);
      target({ name: `re-sync unchanged, ${label} ${count} (median of ${rounds})`, figure: `${median(resyncs).toFixed(2)} s, ${(median(resyncs) / median(lists)).toFixed(2)}× listing`, limit: `≤ 1.5× bare listing ${median(lists).toFixed(2)} s (median of ${rounds}), same run`, met: median(resyncs) / median(lists) <= 1.5 }, log);
      log(`  ${label.padEnd(11)} re-sync skipped ${again!.meta.chunks_unchanged} of ${again!.meta.chunks} chunks by digest`);
    };

    const suite = async (label: string, base: Record<string, unknown> & { type: 'localfiles' | 's3' }, count: number) => {
      const listing = await bareList(base);
      if (listing.count !== count) throw new Error(`${label}: listed ${listing.count}, expected ${count}`);
      add(label, 'bare listing', count, listing.seconds, undefined, listing.cpu);
      // Best of 8 and 16 writers (DynamoDB Local peaks in between); tags differ so each run writes new items.
      const best = async (withGet: boolean, kind: string) => {
        const runs = [];
        for (const w of [8, 16]) runs.push({ w, ...(await rawRun(base, withGet, `${label}-${kind}-${w}`, w)) });
        const r = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
        log(`  ${label.padEnd(11)} raw ${kind}: ${runs.map((x) => `${x.w} writers ${x.seconds.toFixed(1)} s`).join(', ')}`);
        return r;
      };
      // Each raw limit is measured right before the sync it is compared with: DynamoDB Local's cost
      // per write drifts up as its in-memory table grows (the same raw write took 17.1 s as the
      // first phase and 21.2 s after the others), so both sides of a ratio see the same emulator.
      const rawBlob = await best(false, 'blob');
      add(label, 'raw limit blob (list+write)', count, rawBlob.seconds, `${rawBlob.w} writers, task items`, rawBlob.cpu);
      calls.clear();
      const blob = await newStorage({ ...base, use_blob_urls: true });
      const b = await syncOnce(blob.id);
      const bTasks = (await getProject(app.db, blob.projectId))?.task_number ?? 0;
      if (bTasks !== count) throw new Error(`${label} blob: ${bTasks} tasks for ${count} objects`);
      add(label, 'sync blob', count, b.seconds, `${(rawBlob.seconds / b.seconds).toFixed(2)} of raw (target ≥ 0.8)`, b.cpu);
      target({ name: `sync blob, ${label} ${count}`, figure: `${b.seconds.toFixed(1)} s, ${(rawBlob.seconds / b.seconds).toFixed(2)} of raw`, limit: `≥ 0.8 of raw list+write ${rawBlob.seconds.toFixed(1)} s, same run`, met: rawBlob.seconds / b.seconds >= 0.8 }, log);
      log(`  ${label.padEnd(11)} blob ${callSummary(count)}`);
      if (base.type === 's3') await partitionsCompared({ ...base, type: 's3' }, count, b.seconds, blob.projectId);
      // Information, not a target: the ~330-byte item of the earlier figures, right after the sync.
      const rawSmall = await rawRun(base, false, `${label}-small`, 16, false, 'small');
      add(label, 'raw blob, 330-byte items', count, rawSmall.seconds, `16 writers; sync blob ${(rawSmall.seconds / b.seconds).toFixed(2)} of it`, rawSmall.cpu);

      // Fast runs skip JSON mode: the unchanged re-sync is measured on the blob storage.
      if (process.env.BENCH_FAST) return resyncRounds(label, base, blob.id, count, 3);
      const rawJson = await best(true, 'json');
      add(label, 'raw limit JSON (+get)', count, rawJson.seconds, `${rawJson.w} writers`, rawJson.cpu);
      calls.clear();
      const json = await newStorage({ ...base, use_blob_urls: false });
      const j = await syncOnce(json.id);
      const jTasks = (await getProject(app.db, json.projectId))?.task_number ?? 0;
      if (jTasks !== count) throw new Error(`${label} JSON: ${jTasks} tasks for ${count} objects`);
      add(label, 'sync JSON', count, j.seconds, `${(rawJson.seconds / j.seconds).toFixed(2)} of raw (target ≥ 0.6)`, j.cpu);
      target({ name: `sync JSON, ${label} ${count}`, figure: `${j.seconds.toFixed(1)} s, ${(rawJson.seconds / j.seconds).toFixed(2)} of raw`, limit: `≥ 0.6 of raw list+read+write ${rawJson.seconds.toFixed(1)} s, same run`, met: rawJson.seconds / j.seconds >= 0.6 }, log);
      log(`  ${label.padEnd(11)} JSON ${callSummary(count)}`);

      await resyncRounds(label, base, json.id, count, 5);

      // Information: the per-object item set the pipeline had before link pages (link read + task + link item per key).
      const rawItems = await rawRun(base, false, `${label}-items`, 16, true);
      add(label, 'raw per-object links', count, rawItems.seconds, 'read link+write task+link', rawItems.cpu);
    };

    log(`sync bench: N=${n} local files${skipS3 ? '' : `, ${s3N} S3 objects`}; chunk ${app.env.syncChunkSize}, map concurrency ${mapConcurrency}`);
    // Local files, nested: 1,000 per directory.
    const dir = join(work, 'files');
    const seedLocal = await timed(async () => {
      for (let d = 0; d * 1000 < n; d++) mkdirSync(join(dir, `d${String(d).padStart(4, '0')}`), { recursive: true });
      await pool(
        (function* () {
          for (let i = 0; i < n; i++) yield i;
        })(),
        32,
        (i) => writeFile(join(dir, `d${String(Math.floor(i / 1000)).padStart(4, '0')}`, `f${String(i).padStart(7, '0')}.json`), `{"image":"https://example.com/img/${i}.jpg","i":${i}}`),
      );
    });
    add('localfiles', 'seed', n, seedLocal.seconds);
    await suite('localfiles', { type: 'localfiles', path: dir, recursive_scan: true }, n);

    if (!skipS3) {
      const s3 = emus!.endpoints.s3!;
      const { createEmulatorS3Client } = await import('../test/emulators/s3-client');
      const c = createEmulatorS3Client(s3);
      const bucket = 'bench-sync';
      await c.send(new CreateBucketCommand({ Bucket: bucket }));
      const seedS3 = await timed(() =>
        pool(
          (function* () {
            for (let i = 0; i < s3N; i++) yield i;
          })(),
          16,
          async (i) => {
            await c.send(new PutObjectCommand({ Bucket: bucket, Key: `d${String(Math.floor(i / 1000)).padStart(4, '0')}/f${String(i).padStart(7, '0')}.json`, Body: `{"image":"https://example.com/img/${i}.jpg","i":${i}}` }));
          },
        ),
      );
      c.destroy();
      add('s3', 'seed', s3N, seedS3.seconds);
      await suite('s3', { type: 's3', bucket, s3_endpoint: s3.endpoint, region_name: s3.region, aws_access_key_id: s3.accessKeyId, aws_secret_access_key: s3.secretAccessKey, recursive_scan: true }, s3N);
    }
    await starter.stop();
    installApp(undefined);
    log(`peak RSS of the bench process: ${rssMb()} MB (DynamoDB Local and emulators excluded)`);
  } finally {
    await emus?.stop();
    await ddb.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}
