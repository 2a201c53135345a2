/**
 * `npm run bundle-sizes`: bundles every function the way `cdk synth` does and prints each bundle's
 * size (the handler file, gzip of it as a proxy for the deployment zip, and its source map).
 *
 *   npm run bundle-sizes                 # synthesize into a temp dir (runs esbuild, offline)
 *   npm run bundle-sizes -- --cdk-out    # read an existing ./cdk.out (after `npx cdk synth`)
 *   npm run bundle-sizes -- --cdk-out=path/to/cdk.out
 *   npm run bundle-sizes -- --load       # also import each bundle in a fresh Node process
 *                                          (catches ESM/CJS interop breakage before a deploy)
 *
 * Exit code 1 when a bundle is missing or (with --load) fails to import.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { App } from 'aws-cdk-lib';
import { FUNCTIONS, type FunctionName } from '../functions/manifest';
import { FUNCTION_METADATA_KEY } from '../lib/constructs/node-function';
import { LabelsyncStack } from '../lib/labelsync-stack';

const STACK = 'Labelsync';

interface Row {
  name: FunctionName;
  file: string;
  bytes: number;
  gzip: number;
  mapBytes: number;
  load?: string;
}

function args(): { cdkOut?: string; load: boolean } {
  let cdkOut: string | undefined;
  let load = false;
  for (const a of process.argv.slice(2)) {
    if (a === '--cdk-out') cdkOut = 'cdk.out';
    else if (a.startsWith('--cdk-out=')) cdkOut = a.slice('--cdk-out='.length);
    else if (a === '--load') load = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return { cdkOut, load };
}

/** Synthesizes the app (with bundling) into a temp dir; returns the directory. */
function synthesize(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'labelsync-bundles-'));
  const app = new App({ outdir });
  new LabelsyncStack(app, STACK);
  app.synth();
  return outdir;
}

/** Asset directory of each manifest function, from the template's Code.S3Key (`<hash>.zip` ↔ `asset.<hash>`). */
function assetDirs(cdkOut: string): Map<FunctionName, string> {
  const template = JSON.parse(readFileSync(join(cdkOut, `${STACK}.template.json`), 'utf8')) as {
    Resources: Record<string, { Type: string; Properties?: { Code?: { S3Key?: unknown } }; Metadata?: Record<string, unknown> }>;
  };
  const out = new Map<FunctionName, string>();
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const name = r.Metadata?.[FUNCTION_METADATA_KEY];
    if (typeof name !== 'string' || !(name in FUNCTIONS)) continue;
    const assetPath = r.Metadata?.['aws:asset:path'];
    const key = r.Properties?.Code?.S3Key;
    const dir = typeof assetPath === 'string' ? assetPath : typeof key === 'string' ? `asset.${key.replace(/\.zip$/, '')}` : undefined;
    if (!dir) throw new Error(`${name}: cannot find its asset in the template`);
    out.set(name as FunctionName, resolve(cdkOut, dir));
  }
  return out;
}

/** Imports a bundle in a child process with a minimal environment; returns 'ok' or the first error line. */
function tryLoad(file: string): string {
  const code = `import(${JSON.stringify(file)}).then((m) => { if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(1); } }, (e) => { console.error(String(e && e.stack || e).split('\\n')[0]); process.exit(1); })`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    env: { PATH: process.env.PATH, LABELSYNC_TABLE: 'bundle-check', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bundle-check' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return r.status === 0 ? 'ok' : `FAILED: ${(r.stderr || r.stdout).trim().split('\n').filter((l) => !/NodeVersionSupportWarning|^$/.test(l))[0] ?? `exit ${r.status}`}`;
}

const kb = (n: number): string => (n / 1024).toFixed(1).padStart(9);

function main(): void {
  const { cdkOut, load } = args();
  const started = Date.now();
  const dir = cdkOut ? resolve(cdkOut) : synthesize();
  const synthMs = Date.now() - started;
  try {
    const dirs = assetDirs(dir);
    const rows: Row[] = [];
    let failed = false;
    for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
      const d = dirs.get(name);
      const file = d && existsSync(d) ? readdirSync(d).find((f) => /^index\.(mjs|js|cjs)$/.test(f)) : undefined;
      if (!d || !file) {
        console.error(`${name}: no bundle found${d ? ` in ${d}` : ''}`);
        failed = true;
        continue;
      }
      const path = join(d, file);
      const body = readFileSync(path);
      const map = join(d, `${file}.map`);
      const row: Row = { name, file, bytes: body.length, gzip: gzipSync(body).length, mapBytes: existsSync(map) ? statSync(map).size : 0 };
      if (load) {
        row.load = tryLoad(path);
        if (row.load !== 'ok') failed = true;
      }
      rows.push(row);
    }
    rows.sort((a, b) => b.bytes - a.bytes);
    const header = `${'function'.padEnd(14)} ${'file'.padEnd(9)} ${'KiB'.padStart(9)} ${'gzip KiB'.padStart(9)} ${'map KiB'.padStart(9)}${load ? '  import' : ''}`;
    console.log(header);
    console.log('-'.repeat(header.length));
    for (const r of rows) {
      console.log(`${r.name.padEnd(14)} ${r.file.padEnd(9)} ${kb(r.bytes)} ${kb(r.gzip)} ${kb(r.mapBytes)}${r.load ? `  ${r.load}` : ''}`);
    }
    const total = rows.reduce((s, r) => s + r.bytes, 0);
    console.log('-'.repeat(header.length));
    console.log(`${'total'.padEnd(24)} ${kb(total)}   (bytes of the handler file: ${rows.map((r) => `${r.name}=${r.bytes}`).join(' ')})`);
    if (!cdkOut) console.log(`synthesized with bundling in ${(synthMs / 1000).toFixed(1)} s`);
    if (failed) process.exitCode = 1;
  } finally {
    if (!cdkOut) rmSync(dir, { recursive: true, force: true });
  }
}

main();
