/**
 * The deployed meta bundle carries the console itself: console/assets.ts is replaced at bundle time
 * by the built assets (no esbuild in the Lambda), in a lazy chunk that the cold start of /health
 * does not parse, and the bundled handler serves the page and its assets.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../functions/manifest';
import { bundleOptions, reachableOutputs } from '../../lib/constructs/bundle';
import { PROJECT_ROOT } from '../../lib/constructs/node-function';

let outdir: string;
let metafile: Metafile;
const ENTRY = 'meta.mjs';

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'labelsync-console-bundle-'));
  metafile = (await build(bundleOptions({ meta: join(PROJECT_ROOT, FUNCTIONS.meta.entry) }, outdir, { sourceMaps: false }))).metafile!;
}, 60_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

const entryKey = (): string => Object.keys(metafile.outputs).find((f) => f.endsWith(`/${ENTRY}`))!;
const inputsOf = (files: Iterable<string>): string[] => [...files].flatMap((f) => Object.keys(metafile.outputs[f].inputs));

describe('console in the meta bundle', () => {
  it('embeds the built assets instead of the esbuild build', () => {
    const all = inputsOf(Object.keys(metafile.outputs));
    expect(all.some((i) => i.endsWith('console/assets.ts'))).toBe(true);
    expect(all.filter((i) => i.includes('node_modules/esbuild/') || i.endsWith('console/build.ts'))).toEqual([]);
  });

  it('keeps the assets out of the cold start (a lazily imported chunk)', () => {
    const cold = inputsOf(reachableOutputs(metafile, entryKey()));
    expect(cold.some((i) => i.endsWith('console/assets.ts'))).toBe(false);
    expect(inputsOf(reachableOutputs(metafile, entryKey(), true)).some((i) => i.endsWith('console/assets.ts'))).toBe(true);
  });

  it('serves the page and its script from the bundle', () => {
    const url = pathToFileURL(resolve(outdir, ENTRY)).href;
    const code = `
      const { handler } = await import(${JSON.stringify(url)});
      const ev = (p) => ({ version: '2.0', rawPath: p, rawQueryString: '', headers: {}, requestContext: { http: { method: 'GET', path: p }, requestId: 'r' } });
      const page = await handler(ev('/console/projects/1/storage'), {});
      const src = /src="([^"]+)"/.exec(page.body)[1];
      const js = await handler(ev(src), {});
      console.log(JSON.stringify({ page: page.statusCode, type: page.headers['content-type'], js: js.statusCode, jsType: js.headers['content-type'], jsBytes: (js.body ?? '').length }));`;
    const env = { PATH: process.env.PATH, LABELSYNC_TABLE: 'bundle-check', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bundle-check' };
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env, encoding: 'utf8', timeout: 30_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as Record<string, unknown>;
    expect(out, r.stderr).toMatchObject({ page: 200, type: 'text/html; charset=utf-8', js: 200, jsType: 'text/javascript; charset=utf-8' });
    expect(out.jsBytes).toBeGreaterThan(1000);
  });
});
