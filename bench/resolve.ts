/**
 * URI resolution benchmark, one run, on the local runtime (`startRuntime`) and the S3 emulator:
 * - GET /api/tasks/{id} p50/p99 for a task holding 100 storage URIs next to the same request for a
 *   task with none (the floor; target: within 2×);
 * - presigned redirects per second (GET resolve URL → 303, 8 concurrent clients);
 * - proxy throughput in MB/s (presign off, whole object streamed through the service) next to
 *   reading the same object straight from the emulator (presigned URL), both with fetch in a
 *   worker thread, s3rver in its own process (target: ≥ 0.8×).
 * `run(opts)` is called by bench/index.ts; `tsx bench/resolve.ts` runs it alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../local/lambda-functions';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { processApp } from '../shared/process-app';
import { reserveIds } from '../shared/db/counters';
import type { TaskItem } from '../shared/db/items';
import { getProject } from '../shared/db/repo-projects';
import { putTasks } from '../shared/db/repo-tasks';
import { createS3Client } from '../shared/storage/providers/s3';
import { startEmulators, type EmulatorEndpoints } from '../local/emulators';
import { startRuntime } from '../local/runtime';
import { runWhenMain } from './run-alone';
import { target } from './targets';

export interface ResolveBenchOptions {
  /** Reuse running emulators (else S3 and DynamoDB Local are started and stopped here). */
  emulators?: Pick<EmulatorEndpoints, 's3' | 'dynamodb'>;
  /** Requests per task-GET series. @default 300 */
  taskRequests?: number;
  /** Seconds of presigned redirects. @default 3 */
  redirectSeconds?: number;
  /** Proxied object size in MiB. @default 64 */
  objectMiB?: number;
  /** Alternating proxy/direct reads; the best of each is reported. @default 5 */
  proxyRounds?: number;
  log?: (line: string) => void;
}

export interface ResolveBenchResult {
  taskGet: { withUris: { p50: number; p99: number }; floor: { p50: number; p99: number }; ratioP50: number };
  redirectsPerSecond: number;
  proxy: { mbPerSecond: number; directMbPerSecond: number; ratio: number };
}

/** Worker body: GET `url`, drain it, post the elapsed ms (CommonJS, evaluated). */
const READER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const t = performance.now();
  const r = await fetch(workerData.url);
  if (r.status !== 200) throw new Error('GET -> ' + r.status);
  let got = 0;
  for await (const c of r.body) got += c.length;
  if (got !== workerData.size) throw new Error('read ' + got + ' of ' + workerData.size + ' bytes');
  parentPort.postMessage({ ms: performance.now() - t });
})().catch((e) => parentPort.postMessage({ error: String(e && e.message || e) }));
`;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (n: number) => n.toFixed(2);

/** s3rver in a child process (file-backed temp dir), killed by `stop`. */
async function startS3Process(): Promise<{ endpoint: EmulatorEndpoints['s3']; stop: () => void }> {
  const dir = await mkdtemp(join(tmpdir(), 'labelsync-bench-s3-'));
  const code = `import S3rver from '@20minutes/s3rver';
const s = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: ${JSON.stringify(dir)} });
const a = await s.run();
console.log('PORT ' + a.port);`;
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '--input-type=module', '-e', code], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`s3rver exited with ${c}`)));
    setTimeout(() => reject(new Error('s3rver did not start in 20 s')), 20_000).unref();
  });
  return {
    endpoint: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    stop: () => {
      child.kill();
      void rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the benchmark and prints one line per figure. */
export async function run(opts: ResolveBenchOptions = {}): Promise<ResolveBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  // s3rver runs in its own process here (as a store does in production): in-process it would share
  // one event loop with the proxy and the benchmark would mostly measure that contention.
  const own = opts.emulators ? undefined : await startEmulators({ only: ['dynamodb'] });
  const ownS3 = opts.emulators ? undefined : await startS3Process();
  const em = (opts.emulators ?? { ...own!.endpoints, s3: ownS3!.endpoint }) as Pick<EmulatorEndpoints, 's3' | 'dynamodb'>;
  const dataDir = await mkdtemp(join(tmpdir(), 'labelsync-bench-resolve-'));
  process.env.LABELSYNC_ALLOWED_ENDPOINTS = '127.0.0.1,localhost';
  const runtime = await startRuntime({ port: 0, dataDir, dynamodbEndpoint: em.dynamodb.endpoint, tableName: `bench-resolve-${Date.now()}`, stream: false, log: () => undefined });
  try {
    const app = processApp();
    const auth = { authorization: `Token ${runtime.token}` };
    const post = await fetch(`${runtime.url}/api/projects`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'bench-resolve', label_config: '<View><Image name="i" value="$image"/></View>' }),
    });
    const project = (await post.json()) as { id: number };
    const orgId = (await getProject(app.db, project.id))!.orgId;

    const bucket = `bench-resolve-${Date.now().toString(36)}`;
    const s3 = createS3Client({
      type: 's3', bucket, recursive: true, region: em.s3.region, endpoint: em.s3.endpoint,
      credentials: { accessKeyId: em.s3.accessKeyId, secretAccessKey: em.s3.secretAccessKey },
      maxReadBytes: Number.MAX_SAFE_INTEGER, connectTimeoutMs: 3000, requestTimeoutMs: 120_000,
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const size = (opts.objectMiB ?? 64) * 1024 * 1024;
    const blob = Buffer.alloc(size, 0x5a);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'media/big.mp4', Body: blob }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'media/small.jpg', Body: Buffer.alloc(1000, 1) }));

    await s3.send(new CreateBucketCommand({ Bucket: `${bucket}-proxy` }));
    await s3.send(new PutObjectCommand({ Bucket: `${bucket}-proxy`, Key: 'media/big.mp4', Body: blob }));
    // Storages through the storages API, as a user creates them (connection validated).
    for (const [b, presign] of [[bucket, true], [`${bucket}-proxy`, false]] as const) {
      const r = await fetch(`${runtime.url}/api/storages/s3`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          project: project.id, bucket: b, s3_endpoint: em.s3.endpoint, region_name: em.s3.region, presign, presign_ttl: 15,
          aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey,
        }),
      });
      if (r.status !== 201) throw new Error(`POST /api/storages/s3 → ${r.status}: ${await r.text()}`);
    }
    const now = new Date().toISOString();

    // 100 URIs in the shapes task data holds them: whole values, HTML, nested lists.
    const many: Record<string, unknown> = { text: 'no uri here', items: [] as unknown[] };
    for (let i = 0; i < 40; i++) many[`img${i}`] = `s3://${bucket}/media/${i}/image ${i}.jpg`;
    for (let i = 0; i < 30; i++) (many.items as unknown[]).push({ src: `s3://${bucket}/media/n/${i}.png`, meta: { w: i } });
    many.html = Array.from({ length: 30 }, (_, i) => `<p>frame ${i}</p><img src="s3://${bucket}/frames/${i}.jpg" alt="f=${i}">`).join('');
    const none: Record<string, unknown> = { text: 'no uri here', items: Array.from({ length: 30 }, (_, i) => ({ src: `frame ${i}`, meta: { w: i } })) };
    for (let i = 0; i < 40; i++) none[`img${i}`] = `media/${i}/image ${i}.jpg`;
    none.html = Array.from({ length: 30 }, (_, i) => `<p>frame ${i}</p><img src="frames/${i}.jpg" alt="f=${i}">`).join('');
    const first = await reserveIds(app.db, 'task', 4);
    const mk = (id: number, data: Record<string, unknown>): TaskItem => ({
      kind: 'task', id, projectId: project.id, orgId, data, is_labeled: false, total_annotations: 0, cancelled_annotations: 0, total_predictions: 0, created_at: now, updated_at: now,
    });
    await putTasks(app.db, [mk(first, many), mk(first + 1, none), mk(first + 2, { image: `s3://${bucket}/media/small.jpg` }), mk(first + 3, { video: `s3://${bucket}-proxy/media/big.mp4` })]);

    const getTask = async (id: number) => {
      const r = await fetch(`${runtime.url}/api/tasks/${id}`, { headers: auth });
      if (r.status !== 200) throw new Error(`GET /api/tasks/${id} → ${r.status}`);
      return (await r.json()) as { data: Record<string, unknown> };
    };
    const check = await getTask(first);
    const rewritten = JSON.stringify(check.data).match(/\/tasks\/\d+\/resolve\/\?fileuri=/g)?.length ?? 0;
    if (rewritten !== 100) throw new Error(`expected 100 rewritten URIs, got ${rewritten}`);

    const n = opts.taskRequests ?? 300;
    // Interleave the two series in blocks so machine noise hits both alike.
    const withUris: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < 20; i++) {
      await getTask(first);
      await getTask(first + 1);
    }
    for (let block = 0; block < n / 50; block++) {
      for (const [id, out] of [[first, withUris], [first + 1, floor]] as const) {
        for (let i = 0; i < 50; i++) {
          const t = performance.now();
          await getTask(id);
          out.push(performance.now() - t);
        }
      }
    }
    withUris.sort((a, b) => a - b);
    floor.sort((a, b) => a - b);
    const tw = { p50: pct(withUris, 50), p99: pct(withUris, 99) };
    const tf = { p50: pct(floor, 50), p99: pct(floor, 99) };
    log(`resolve: GET /api/tasks/{id} with 100 URIs  p50 ${ms(tw.p50)} ms  p99 ${ms(tw.p99)} ms`);
    log(`resolve: GET /api/tasks/{id} with no URIs   p50 ${ms(tf.p50)} ms  p99 ${ms(tf.p99)} ms  (floor; ratio p50 ${(tw.p50 / tf.p50).toFixed(2)}x, target ≤ 2x)`);
    target({ name: 'resolve: GET /api/tasks/{id}, 100 URIs vs none (p50)', figure: `${ms(tw.p50)} ms, ${(tw.p50 / tf.p50).toFixed(2)}× the floor`, limit: `≤ 2× the floor ${ms(tf.p50)} ms, same run`, met: tw.p50 / tf.p50 <= 2 }, log);

    // Presigned redirects: 8 clients for a fixed time.
    const small = (await getTask(first + 2)).data.image as string;
    const seconds = opts.redirectSeconds ?? 3;
    for (let i = 0; i < 50; i++) await (await fetch(runtime.url + small, { redirect: 'manual' })).arrayBuffer();
    let count = 0;
    const until = performance.now() + seconds * 1000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < until) {
          const r = await fetch(runtime.url + small, { redirect: 'manual' });
          await r.arrayBuffer();
          if (r.status !== 303) throw new Error(`resolve → ${r.status}`);
          count++;
        }
      }),
    );
    const rps = count / ((performance.now() - t0) / 1000);
    log(`resolve: presigned redirects ${rps.toFixed(0)}/s (8 concurrent clients, ${count} in ${seconds} s)`);

    // Proxy throughput vs the emulator itself (best of `rounds` each, alternating).
    const video = (await getTask(first + 3)).data.video as string;
    const s3Presigned = async (b: string, k: string) => {
      const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
      return getSignedUrl(s3, new GetObjectCommand({ Bucket: b, Key: k }), { expiresIn: 600 });
    };
    // The reader runs in a worker thread: the emulator (in-process s3rver) and the service share
    // this event loop, so a reader here would take CPU from both and measure itself.
    const timedRead = (url: string) =>
      new Promise<number>((resolve, reject) => {
        const w = new Worker(READER, { eval: true, workerData: { url, size } });
        w.once('message', (m: { ms?: number; error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m.ms!)));
        w.once('error', reject);
      });
    const direct = await s3Presigned(`${bucket}-proxy`, 'media/big.mp4');
    const rounds = opts.proxyRounds ?? 5;
    let bestProxy = 0;
    let bestDirect = 0;
    for (let i = 0; i < rounds; i++) {
      // Same HTTP client on both sides (fetch), so the ratio measures the proxy hop alone.
      bestProxy = Math.max(bestProxy, size / 1e6 / ((await timedRead(runtime.url + video)) / 1000));
      bestDirect = Math.max(bestDirect, size / 1e6 / ((await timedRead(direct)) / 1000));
    }
    log(`resolve: proxy ${bestProxy.toFixed(0)} MB/s vs emulator direct ${bestDirect.toFixed(0)} MB/s (ratio ${(bestProxy / bestDirect).toFixed(2)}, target ≥ 0.8; ${size / 1024 / 1024} MiB object, both read with fetch in a worker thread, best of ${rounds} alternating)`);
    target({ name: 'resolve: proxied media vs the emulator directly', figure: `${bestProxy.toFixed(0)} MB/s, ${(bestProxy / bestDirect).toFixed(2)} of direct`, limit: `≥ 0.8 of direct ${bestDirect.toFixed(0)} MB/s, same run`, met: bestProxy / bestDirect >= 0.8 }, log);
    s3.destroy();
    return {
      taskGet: { withUris: tw, floor: tf, ratioP50: tw.p50 / tf.p50 },
      redirectsPerSecond: rps,
      proxy: { mbPerSecond: bestProxy, directMbPerSecond: bestDirect, ratio: bestProxy / bestDirect },
    };
  } finally {
    await runtime.stop();
    await own?.stop();
    ownS3?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, () => run());
