/**
 * `npm run bundle-sizes`: builds every function's bundle exactly as `cdk synth` does
 * (lib/constructs/bundle.ts) and prints per function its cold bytes (entry + static imports: what
 * Lambda's init phase parses), all bytes shipped, source-map bytes, the median cold import time of
 * the bundle in a fresh Node process, and its budget.
 *
 *   npm run bundle-sizes                   # build, 5 cold imports per function
 *   npm run bundle-sizes -- --runs=9       # more samples
 *   npm run bundle-sizes -- --runs=0       # sizes only
 *   npm run bundle-sizes -- --source-maps  # as deployed with context sourceMaps=true
 *                                            (maps shipped, imported with --enable-source-maps)
 *
 * Exit code 1 when a bundle fails to import, has no `handler` export, or exceeds its budget.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { FUNCTIONS, type FunctionName } from '../functions/manifest';
import { BUNDLE_ENTRY, BUNDLE_ENTRY_FILE, COLD_BUDGET_BYTES, bundleOptions, bundleSize, type BundleSize } from '../lib/constructs/bundle';
import { PROJECT_ROOT } from '../lib/constructs/node-function';

interface Row extends BundleSize {
  name: FunctionName;
  importMs?: number;
  error?: string;
}

function args(): { runs: number; sourceMaps: boolean } {
  let runs = 5;
  let sourceMaps = false;
  for (const a of process.argv.slice(2)) {
    if (a === '--source-maps') sourceMaps = true;
    else if (/^--runs=\d+$/.test(a)) runs = Number(a.slice('--runs='.length));
    else throw new Error(`unknown argument ${a}`);
  }
  return { runs, sourceMaps };
}

/**
 * Milliseconds one fresh Node process takes to import `file` (module evaluation included: the
 * handler modules build the app at module scope, as in Lambda's init). Minimal environment.
 */
function coldImportMs(file: string, sourceMaps: boolean): number {
  const code = `const t = performance.now(); const m = await import(${JSON.stringify(pathToFileURL(file).href)}); const ms = performance.now() - t;
if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(1); }
console.log('IMPORT_MS ' + ms);`;
  const r = spawnSync(process.execPath, [...(sourceMaps ? ['--enable-source-maps'] : []), '--input-type=module', '-e', code], {
    env: { PATH: process.env.PATH, LABELSYNC_TABLE: 'bundle-check', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bundle-check' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const ms = /IMPORT_MS (\S+)/.exec(r.stdout)?.[1];
  if (r.status !== 0 || !ms) {
    throw new Error((r.stderr || r.stdout).split('\n').find((l) => /Error|no handler/.test(l) && !/NodeVersionSupportWarning/.test(l)) ?? `exit ${r.status}`);
  }
  return Number(ms);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(name: FunctionName, dir: string, runs: number, sourceMaps: boolean): Promise<Row> {
  const outdir = join(dir, name);
  const result = await build(bundleOptions({ [BUNDLE_ENTRY]: join(PROJECT_ROOT, FUNCTIONS[name].entry) }, outdir, { sourceMaps }));
  const entry = Object.keys(result.metafile!.outputs).find((f) => f.endsWith(`/${name}/${BUNDLE_ENTRY_FILE}`))!;
  const row: Row = { name, ...bundleSize(result.metafile!, entry) };
  try {
    if (runs > 0) row.importMs = median(Array.from({ length: runs }, () => coldImportMs(join(outdir, BUNDLE_ENTRY_FILE), sourceMaps)));
  } catch (e) {
    row.error = (e as Error).message;
  }
  return row;
}

const kb = (n: number): string => (n / 1024).toFixed(1).padStart(9);

function print(rows: Row[], runs: number): boolean {
  let ok = true;
  const header = `${'function'.padEnd(14)} ${'cold KiB'.padStart(9)} ${'total KiB'.padStart(9)} ${'map KiB'.padStart(9)} ${'import ms'.padStart(10)} ${'budget KiB'.padStart(10)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    const budget = COLD_BUDGET_BYTES[r.name];
    const over = r.coldBytes > budget;
    if (over || r.error) ok = false;
    const ms = r.error ? `FAILED: ${r.error}` : runs ? r.importMs!.toFixed(0).padStart(10) : '-'.padStart(10);
    console.log(`${r.name.padEnd(14)} ${kb(r.coldBytes)} ${kb(r.totalBytes)} ${kb(r.mapBytes)} ${ms} ${kb(budget).padStart(10)}${over ? '  OVER BUDGET' : ''}`);
  }
  console.log('-'.repeat(header.length));
  console.log(`cold = entry + its static imports (parsed at init); total = every file shipped${runs ? `; import = median of ${runs} fresh processes` : ''}`);
  return ok;
}

async function main(): Promise<void> {
  const { runs, sourceMaps } = args();
  const dir = mkdtempSync(join(tmpdir(), 'labelsync-bundles-'));
  try {
    const rows: Row[] = [];
    // One at a time: the import timings must not compete with a parallel esbuild.
    for (const name of Object.keys(FUNCTIONS) as FunctionName[]) rows.push(await measure(name, dir, runs, sourceMaps));
    if (!print(rows, runs)) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
