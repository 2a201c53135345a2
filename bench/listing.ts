/**
 * `npm run bench` listing part: the list step's listing and chunk cutting (the pager of
 * shared/sync/listing/pager.ts, the content-defined ChunkCutter, steps time-boxed 1 s, 2 s, 4 s …
 * up to 20 s as the list step's, each resuming from the previous step's resume point) over the
 * synthetic ordered storage (test/fixtures/synthetic-provider.ts: BENCH_LIST_N keys, default 1M,
 * in one flat prefix, 80 ms ± 25 % per page with 1 % of pages 3× slower), sequentially and with 4,
 * 16 and 64 partitions. Prints keys/s and speedup, and checks that every run cut exactly the same
 * chunks. Chunk items are not written here (the sync part measures the table side).
 * Target: ≥ 8× at 16 partitions.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_SYNC_SETTINGS } from '../shared/sync/deps';
import { ChunkCutter, keyBoundary } from '../shared/sync/listing/chunk-cutter';
import { decodeListCursor, type ListCursor } from '../shared/sync/listing/list-cursor';
import type { ListingSource } from '../shared/sync/listing/listing-source';
import { openPager } from '../shared/sync/listing/pager';
import type { ListPage } from '../shared/storage/types';
import { SyntheticProvider } from '../test/fixtures/synthetic-provider';
import { target } from './targets';

interface Run {
  partitions: number;
  seconds: number;
  keys: number;
  chunks: number;
  digest: string;
  steps: number;
  requests: number;
}

async function listOnce(n: number, pageMs: number, partitions: number): Promise<Run> {
  const p = new SyntheticProvider({ count: n, pageMs, jitter: 0.25, slowShare: 0.01, seed: 7 });
  const s = { ...DEFAULT_SYNC_SETTINGS, listPartitions: partitions };
  const cutter = new ChunkCutter<{ k: string }>(s.chunkSize, s.maxChunkBytes, (e) => Buffer.byteLength(e.k) + 40, keyBoundary(s.chunkSize));
  const source = { pages: (t?: string) => p.list({ startToken: t }), listRange: (o: object) => p.list(o) } as unknown as ListingSource<{ k: string }>;
  const hash = createHash('sha256');
  let chunks = 0;
  let keys = 0;
  const take = () => {
    for (const c of cutter.full.splice(0)) {
      hash.update(`${c[0].k}\n${c[c.length - 1].k}\n${c.length}\n`);
      chunks++;
    }
  };
  let cursor: ListCursor = decodeListCursor(null);
  const t0 = performance.now();
  for (let step = 0; ; step++) {
    const softEnd = Date.now() + Math.min(s.listStepMs, s.firstStepMs * 2 ** step);
    const pager = openPager(source, cursor, s);
    let stopping = false;
    for await (const page of pager.pages) {
      for (const e of (page as ListPage).entries) cutter.push({ k: e.key });
      keys += (page as ListPage).entries.length;
      take();
      if (!stopping && Date.now() >= softEnd) {
        stopping = true;
        if (!pager.stop()) break;
      }
    }
    await pager.settle();
    const resume = pager.resume();
    if (!resume) {
      cutter.cut();
      take();
      return { partitions, seconds: (performance.now() - t0) / 1000, keys, chunks, digest: hash.digest('hex').slice(0, 16), steps: step + 1, requests: p.requests };
    }
    cursor = { ...cursor, providerToken: undefined, ranges: undefined, ...resume, step: step + 1 };
  }
}

export async function run(): Promise<Run[]> {
  const n = Number(process.env.BENCH_LIST_N ?? 1_000_000);
  const pageMs = Number(process.env.BENCH_LIST_PAGE_MS ?? 80);
  const runs: Run[] = [];
  for (const partitions of [1, 4, 16, 64]) {
    const r = await listOnce(n, pageMs, partitions);
    runs.push(r);
    const speedup = runs[0].seconds / r.seconds;
    console.log(
      `listing ${n.toLocaleString('en')} synthetic keys at ${pageMs} ms/page, ${partitions === 1 ? 'sequential   ' : `${String(partitions).padStart(2)} partitions`}: ${r.seconds.toFixed(2)} s, ${Math.round(r.keys / r.seconds).toLocaleString('en')} keys/s, ${speedup.toFixed(1)}×, ${r.steps} steps, ${r.requests} list requests, ${r.chunks} chunks (${r.digest})`,
    );
  }
  const same = runs.every((r) => r.digest === runs[0].digest && r.keys === n && r.chunks === runs[0].chunks);
  target({ name: 'listing: identical chunks at 1/4/16/64 partitions', figure: same ? 'identical' : 'DIFFERENT', limit: 'identical', met: same });
  const at16 = runs[0].seconds / runs[2].seconds;
  target({ name: `listing speedup, 16 partitions, ${n.toLocaleString('en')} keys at ${pageMs} ms/page`, figure: `${at16.toFixed(1)}×`, limit: '≥ 8× over sequential', met: at16 >= 8 });
  return runs;
}
