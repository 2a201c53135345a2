/**
 * URI resolution benchmark, one run, on the local runtime (`startRuntime`) and the S3 emulator:
 * - GET /api/tasks/{id} p50/p99 for a task holding 100 storage URIs next to the same request for a
 *   task with none (the floor; target: within 2×);
 * - presigned redirects per second (GET resolve URL → 303, 8 concurrent clients);
 * - proxy throughput in MB/s (presign off, whole object streamed through the service) next to
 *   reading the same object straight from the emulator with the SDK (target: ≥ 0.8×).
 * `run(opts)` is called by bench/index.ts; `tsx bench/resolve.ts` runs it alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getContext } from '../shared/context';
import { reserveIds } from '../shared/db/counters';
import type { TaskItem } from '../shared/db/items';
import { getProject } from '../shared/db/repo-projects';
import { putTasks } from '../shared/db/repo-tasks';
import { createS3Client } from '../shared/storage/providers/s3';
import { startEmulators, type EmulatorEndpoints } from '../local/emulators';
import { startRuntime } from '../local/runtime';

export interface ResolveBenchOptions {
  /** Reuse running emulators (else S3 and DynamoDB Local are started and stopped here). */
  emulators?: Pick<EmulatorEndpoints, 's3' | 'dynamodb'>;
  /** Requests per task-GET series. @default 300 */
  taskRequests?: number;
  /** Seconds of presigned redirects. @default 3 */
  redirectSeconds?: number;
  /** Proxied object size in MiB. @default 64 */
  objectMiB?: number;
  log?: (line: string) => void;
}

export interface ResolveBenchResult {
  taskGet: { withUris: { p50: number; p99: number }; floor: { p50: number; p99: number }; ratioP50: number };
  redirectsPerSecond: number;
  proxy: { mbPerSecond: number; directMbPerSecond: number; ratio: number };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (n: number) => n.toFixed(2);

/** Runs the benchmark and prints one line per figure. */
export async function run(opts: ResolveBenchOptions = {}): Promise<ResolveBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const own = opts.emulators ? undefined : await startEmulators({ only: ['s3', 'dynamodb'] });
  const em = (opts.emulators ?? own!.endpoints) as Pick<EmulatorEndpoints, 's3' | 'dynamodb'>;
  const dataDir = await mkdtemp(join(tmpdir(), 'labelsync-bench-resolve-'));
  process.env.LABELSYNC_ALLOWED_ENDPOINTS = '127.0.0.1,localhost';
  const runtime = await startRuntime({ port: 0, dataDir, dynamodbEndpoint: em.dynamodb.endpoint, tableName: `bench-resolve-${Date.now()}`, stream: false, log: () => undefined });
  try {
    const app = getContext();
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

    // Proxy throughput vs the emulator itself (best of 3 each, alternating).
    const video = (await getTask(first + 3)).data.video as string;
    const drain = async (body: AsyncIterable<Uint8Array>) => {
      let got = 0;
      for await (const c of body) got += c.length;
      if (got !== size) throw new Error(`read ${got} of ${size} bytes`);
    };
    let bestProxy = 0;
    let bestDirect = 0;
    for (let i = 0; i < 3; i++) {
      let t = performance.now();
      const r = await fetch(runtime.url + video);
      if (r.status !== 200) throw new Error(`proxy → ${r.status}`);
      await drain(r.body as unknown as AsyncIterable<Uint8Array>);
      bestProxy = Math.max(bestProxy, size / 1e6 / ((performance.now() - t) / 1000));
      t = performance.now();
      const d = await s3.send(new GetObjectCommand({ Bucket: `${bucket}-proxy`, Key: 'media/big.mp4' }));
      await drain(d.Body as AsyncIterable<Uint8Array>);
      bestDirect = Math.max(bestDirect, size / 1e6 / ((performance.now() - t) / 1000));
    }
    log(`resolve: proxy ${bestProxy.toFixed(0)} MB/s vs emulator direct ${bestDirect.toFixed(0)} MB/s (ratio ${(bestProxy / bestDirect).toFixed(2)}, target ≥ 0.8; ${size / 1024 / 1024} MiB object, best of 3)`);
    s3.destroy();
    return {
      taskGet: { withUris: tw, floor: tf, ratioP50: tw.p50 / tf.p50 },
      redirectsPerSecond: rps,
      proxy: { mbPerSecond: bestProxy, directMbPerSecond: bestDirect, ratio: bestProxy / bestDirect },
    };
  } finally {
    await runtime.stop();
    await own?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
