/**
 * `npm run bench`: runs the benchmark parts that exist — sync (bench/sync.ts), listing (bench/listing.ts), resolve
 * (bench/resolve.ts), export (bench/export.ts), storage (bench/storage.ts), events (bench/events.ts) — one
 * after another.
 * Each part exports `run(opts)` and reports its targets through bench/targets.ts; the run ends
 * with a summary of every target, MET or MISSED. `BENCH_ONLY=sync,export` (or `--only=sync`) picks parts; `--n=<N>` sets BENCH_N.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { targetSummary } from './targets';

const here = dirname(fileURLToPath(import.meta.url));
const PARTS = ['sync', 'listing', 'resolve', 'export', 'storage', 'events'] as const;

for (const arg of process.argv.slice(2)) {
  const m = /^--(only|n)=(.+)$/.exec(arg);
  if (m && m[1] === 'only') process.env.BENCH_ONLY = m[2];
  if (m && m[1] === 'n') process.env.BENCH_N = m[2];
}
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);

let failed = false;
for (const part of PARTS) {
  if (only && !only.includes(part)) continue;
  const file = join(here, `${part}.ts`);
  if (!existsSync(file)) continue;
  console.log(`\n=== bench: ${part} ===`);
  try {
    const mod = (await import(pathToFileURL(file).href)) as { run?: (opts?: Record<string, unknown>) => Promise<unknown> };
    if (typeof mod.run !== 'function') throw new Error(`bench/${part}.ts does not export run()`);
    await mod.run({});
  } catch (e) {
    failed = true;
    console.error(`bench ${part} failed:`, e);
  }
}
for (const line of targetSummary()) console.log(line);
if (failed) console.log('some bench parts failed (see above): their targets are not in the summary');
process.exit(failed ? 1 : 0);
