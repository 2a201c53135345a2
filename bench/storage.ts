/**
 * Storage provider benchmark (part of `npm run bench`), no emulator needed:
 * - S3 presigning: URLs/s of the provider's reused presigner next to the SDK's `getSignedUrl`
 *   measured in the same run (target: ≥ 2× faster); presigning is local computation, so the
 *   endpoint is never contacted;
 * - local files walk memory: heap growth while listing 100k files page by page, next to the heap
 *   that holding every entry costs, measured in the same run (target: < 16 MiB and less than half
 *   of holding every entry).
 * Options (env): BENCH_STORAGE_FILES (default 100,000).
 * `run(opts)` is called by bench/index.ts; `tsx bench/storage.ts` runs it alone.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { mapLimit } from '../shared/storage/common';
import { createLocalProvider } from '../shared/storage/providers/local';
import type { S3Provider } from '../shared/storage/providers/s3';
import { testSettings, testRegistry } from '../test/contract/helpers';
import { runWhenMain } from './run-alone';
import { target } from './targets';
const { getProvider } = testRegistry();

export interface StorageBenchOptions {
  /** Files in the walked tree. @default 100_000 */
  files?: number;
  /** Presigned URLs per round and side. @default 200 */
  presigns?: number;
  log?: (line: string) => void;
}

export interface StorageBenchResult {
  presign: { oursPerSecond: number; sdkPerSecond: number; ratio: number };
  walk: { files: number; growthMiB: number; keptMiB: number };
}

async function presignRatio(n: number, log: (line: string) => void): Promise<StorageBenchResult['presign']> {
  const config = { type: 's3' as const, role: 'export' as const, bucket: 'bench-presign', s3_endpoint: 'http://127.0.0.1:9', region_name: 'us-east-1', aws_access_key_id: 'AKIDBENCH', aws_secret_access_key: 'bench-secret' };
  const p = (await getProvider(config, { settings: testSettings(), noCache: true })) as S3Provider;
  const cmd = (k: string) => new GetObjectCommand({ Bucket: config.bucket, Key: k });
  try {
    await p.presign('warm.txt', 60);
    await getSignedUrl(p.client, cmd('warm.txt'), { expiresIn: 60 });
    // Best of 5 alternating rounds: one long sequential run each measures the neighbours' load.
    let ours = Infinity;
    let sdk = Infinity;
    for (let round = 0; round < 5; round++) {
      let t = performance.now();
      for (let i = 0; i < n; i++) await p.presign(`k/${round}/${i}.txt`, 60);
      ours = Math.min(ours, performance.now() - t);
      t = performance.now();
      for (let i = 0; i < n; i++) await getSignedUrl(p.client, cmd(`k/${round}/${i}.txt`), { expiresIn: 60 });
      sdk = Math.min(sdk, performance.now() - t);
    }
    const result = { oursPerSecond: n / (ours / 1000), sdkPerSecond: n / (sdk / 1000), ratio: sdk / ours };
    target(
      { name: 'storage: S3 presigner reused vs getSignedUrl', figure: `${result.oursPerSecond.toFixed(0)} URLs/s, ${result.ratio.toFixed(2)}× getSignedUrl`, limit: `≥ 2× getSignedUrl ${result.sdkPerSecond.toFixed(0)} URLs/s, same run`, met: result.ratio >= 2 },
      log,
    );
    return result;
  } finally {
    await p.close();
  }
}

async function walkMemory(n: number, log: (line: string) => void): Promise<StorageBenchResult['walk']> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'labelsync-bench-walk-')));
  try {
    const dir = join(root, 'big');
    const perDir = 1000;
    for (let d = 0; d < n / perDir; d++) await mkdir(join(dir, `d${d}`), { recursive: true });
    await mapLimit(Array.from({ length: n }, (_, i) => i), 64, (i) => writeFile(join(dir, `d${Math.floor(i / perDir)}`, `file-with-a-longish-name-${i}.json`), ''));
    const p = await createLocalProvider({ path: dir, documentRoot: root, recursive: true, maxReadBytes: 1 << 20 });
    // Live memory, not garbage: collect before each sample (a peak without a GC measures how lazy
    // the collector was).
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    let count = 0;
    let pages = 0;
    const t = performance.now();
    for await (const page of p.list()) {
      count += page.entries.length;
      if (++pages % 10 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
    }
    const walkedMs = performance.now() - t;
    if (count !== n) throw new Error(`walk listed ${count} of ${n} files`);
    // Control: the same walk keeping every entry, i.e. what an array of all keys costs.
    const kept: unknown[] = [];
    gc();
    const before2 = process.memoryUsage().heapUsed;
    for await (const page of p.list()) kept.push(...page.entries);
    gc();
    const keptMiB = (process.memoryUsage().heapUsed - before2) / 1024 / 1024;
    const growthMiB = (peak - before) / 1024 / 1024;
    log(`storage: local walk of ${n} files in ${walkedMs.toFixed(0)} ms (${Math.round(n / (walkedMs / 1000))}/s)`);
    target(
      { name: `storage: local walk heap growth, ${n} files`, figure: `${growthMiB.toFixed(1)} MiB`, limit: `< 16 MiB and < half of holding every entry, ${keptMiB.toFixed(1)} MiB same run`, met: growthMiB < 16 && growthMiB < keptMiB / 2 },
      log,
    );
    return { files: n, growthMiB, keptMiB };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export async function run(opts: StorageBenchOptions = {}): Promise<StorageBenchResult> {
  const log = opts.log ?? console.log;
  const presign = await presignRatio(opts.presigns ?? 200, log);
  const walk = await walkMemory(opts.files ?? Number(process.env.BENCH_STORAGE_FILES ?? 100_000), log);
  return { presign, walk };
}

runWhenMain(import.meta.url, () => run());
