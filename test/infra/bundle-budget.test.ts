/**
 * The deployed bundles stay small at cold start: every function is built with the construct's own
 * esbuild options (lib/constructs/bundle.ts), in one build of all entries (shared code is then
 * split into common chunks, but what each entry reaches statically is the same module set as in
 * its own bundle). Per-function builds and import timings: `npm run bundle-sizes`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as projects } from '../../functions/api/projects';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { COLD_BUDGET_BYTES, bundleOptions, bundleSize, reachableOutputs } from '../../lib/constructs/bundle';
import { PROJECT_ROOT } from '../../lib/constructs/node-function';
import { createS3Buckets } from '../contract/helpers';
import { client, newTenant, useTestEnvironment, v2Event } from '../integration/api-harness';

const NAMES = Object.keys(FUNCTIONS) as FunctionName[];
/** Packages only a storage provider needs: none of them may be parsed at a function's cold start. */
const PROVIDER_PACKAGES = ['@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner', '@aws-sdk/client-sts', '@google-cloud/storage', '@azure/storage-blob', '@azure/identity', 'ioredis'];

let outdir: string;
let metafile: Metafile;

const LOAD_ENV = { PATH: process.env.PATH, LABELSYNC_TABLE: 'bundle-check', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bundle-check' };

/** Runs an ES module script in a fresh Node (the bundle as Lambda would load it); returns stdout. */
function runNode(code: string, env: NodeJS.ProcessEnv): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env, encoding: 'utf8', timeout: 30_000 });
  return { stdout: r.stdout.trim(), stderr: r.stderr };
}

const entryOf = (name: FunctionName): string => Object.keys(metafile.outputs).find((f) => f.endsWith(`/${name}.mjs`))!;

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'labelsync-budget-'));
  const entries = Object.fromEntries(NAMES.map((n) => [n, join(PROJECT_ROOT, FUNCTIONS[n].entry)]));
  metafile = (await build(bundleOptions(entries, outdir, { sourceMaps: false }))).metafile!;
}, 60_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('bundle budget', () => {
  it.each(NAMES)('%s: cold bytes (entry + static imports) within its budget', (name) => {
    const { coldBytes } = bundleSize(metafile, entryOf(name));
    expect(coldBytes, `${name} cold bytes ${coldBytes} > budget ${COLD_BUDGET_BYTES[name]}: run npm run bundle-sizes`).toBeLessThanOrEqual(COLD_BUDGET_BYTES[name]);
  });

  it('meta and projects stay under 1 MB at cold start', () => {
    for (const name of ['meta', 'projects'] as const) expect(bundleSize(metafile, entryOf(name)).coldBytes).toBeLessThan(1_000_000);
  });

  it.each(NAMES)('%s: no provider SDK is parsed at cold start (loaded by storage type on first use)', (name) => {
    const inputs = [...reachableOutputs(metafile, entryOf(name))].flatMap((f) => Object.keys(metafile.outputs[f].inputs));
    const eager = PROVIDER_PACKAGES.filter((p) => inputs.some((i) => i.includes(`node_modules/${p}/`)));
    expect(eager).toEqual([]);
    // ...and they are still in the bundle, reachable lazily.
    const lazy = Object.keys(metafile.outputs).flatMap((f) => Object.keys(metafile.outputs[f].inputs));
    expect(lazy.some((i) => i.includes('node_modules/@aws-sdk/client-s3/'))).toBe(true);
  });

  it('ships no source maps by default', () => {
    expect(Object.keys(metafile.outputs).filter((f) => f.endsWith('.map'))).toEqual([]);
  });

  it('every entry exports a handler and every lazy chunk evaluates (ESM/CJS interop of the bundled SDKs)', () => {
    const files = [...NAMES.map((n) => `${n}.mjs`), ...readdirSync(join(outdir, 'chunks')).map((f) => join('chunks', f))];
    const urls = files.map((f) => pathToFileURL(resolve(outdir, f)).href);
    const code = `for (const u of ${JSON.stringify(urls)}) { const m = await import(u); if (!u.includes('/chunks/') && typeof m.handler !== 'function') throw new Error('no handler in ' + u); } console.log('LOADED');`;
    const r = runNode(code, LOAD_ENV);
    expect(r.stdout, r.stderr).toBe('LOADED');
  });

  it('the bundled storages function validates an S3 storage through its lazily loaded S3 chunk', async () => {
    const em = inject('emulators');
    useTestEnvironment();
    const { token } = await newTenant('bundle');
    const project = (await client(projects, token)('POST', '/api/projects', { title: 'bundle' })).json.id as number;
    await createS3Buckets(em.s3.endpoint, em.s3, em.s3.region, ['bundle-budget']);
    const body = (secret: string) =>
      JSON.stringify({ project, bucket: 'bundle-budget', region_name: em.s3.region, s3_endpoint: em.s3.endpoint, aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: secret });
    const events = [em.s3.secretAccessKey, 'wrong-secret-0a1b2c3d'].map((secret) =>
      v2Event('POST', '/api/storages/s3/validate', { body: body(secret), headers: { authorization: `Token ${token}` } }),
    );
    const entry = pathToFileURL(join(outdir, 'storages.mjs')).href;
    const code = `const { handler } = await import(${JSON.stringify(entry)});
for (const e of ${JSON.stringify(events)}) console.log((await handler(e, {})).statusCode);`;
    const r = runNode(code, process.env);
    // 200: the S3 chunk was imported on demand and listed the bucket; 400: it really called s3rver.
    expect(r.stdout.split('\n'), r.stderr).toEqual(['200', '400']);
  });
});
