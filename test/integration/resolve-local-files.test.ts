/**
 * `GET /data/local-files/?d=` through the resolve handler: serving rules of Label Studio,
 * scoped to the caller's organization, with browser access through the media token the task API
 * appends, and one test per traversal form (CVE-2025-25295 class).
 */
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as projectsHandler } from '../../functions/api/projects';
import { handler as resolveHandler } from '../../functions/api/resolve';
import { createApp } from '../../shared/app';
import { installApp, processApp } from '../../shared/process-app';
import { signLocalFilesToken } from '../../shared/resolve/media-token';
import type { LocalHttpServer } from '../../local/http-server';
import { client, newTenant, useTestEnvironment, v2Event } from './api-harness';
import { addStorage, addTasks, startServer } from './resolve-helpers';

const ENV_KEYS = ['LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED', 'LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT', 'LABELSYNC_LOCAL_FILES_STORAGE_ENABLED'] as const;
const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

const root = realpathSync(mkdtempSync(join(tmpdir(), 'resolve-lf-root-')));
const outside = realpathSync(mkdtempSync(join(tmpdir(), 'resolve-lf-out-')));
const PNG = Buffer.from('\x89PNG fake image bytes '.repeat(50), 'latin1');

let tokenA: string;
let tokenB: string;
let orgA: string;
let projectA: number;
let server: LocalHttpServer;

function setEnv(vars: Partial<Record<(typeof ENV_KEYS)[number], string>>): void {
  Object.assign(process.env, vars);
  installApp(createApp(process.env));
}

async function get(d: string | undefined, opts: { token?: string; headers?: Record<string, string>; method?: string; query?: string } = {}) {
  const q = opts.query ?? (d === undefined ? '' : `d=${d}`);
  const headers = { ...(opts.token ? { authorization: `Token ${opts.token}` } : {}), ...opts.headers };
  const res = await resolveHandler(v2Event(opts.method ?? 'GET', `/data/local-files/?${q}`, { headers }));
  const body = res.body === undefined ? Buffer.alloc(0) : Buffer.from(res.body, res.isBase64Encoded ? 'base64' : 'utf8');
  return { status: res.statusCode ?? 200, headers: (res.headers ?? {}) as Record<string, string>, body };
}

beforeAll(async () => {
  mkdirSync(join(root, 'ds/sub'), { recursive: true });
  mkdirSync(join(root, 'ds-private'));
  mkdirSync(join(root, 'dsb'));
  writeFileSync(join(root, 'ds/sub/img one.png'), PNG);
  writeFileSync(join(root, 'ds/a.png'), PNG);
  writeFileSync(join(root, 'ds/%2e%2e'), 'literal name');
  writeFileSync(join(root, 'ds-private/secret.txt'), 'sibling secret');
  writeFileSync(join(root, 'top.txt'), 'in root, in no storage');
  writeFileSync(join(root, 'dsb/b.txt'), 'org b file');
  writeFileSync(join(outside, 'evil.txt'), 'outside the root');
  symlinkSync(outside, join(root, 'ds/link-out'));
  symlinkSync(join(root, 'ds-private/secret.txt'), join(root, 'ds/link-sibling.txt'));

  setEnv({ LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true', LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: root, LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'true' });
  useTestEnvironment();
  const a = await newTenant('lf-a');
  const b = await newTenant('lf-b');
  orgA = a.orgId;
  tokenA = a.token;
  tokenB = b.token;
  projectA = (await client(projectsHandler, tokenA)('POST', '/api/projects', { title: 'lf', label_config: '<View><Image name="i" value="$image"/></View>' })).json.id;
  const projectB = (await client(projectsHandler, tokenB)('POST', '/api/projects', { title: 'lf-b' })).json.id;
  // Saved with a trailing slash and a backslash separator, as LS users do (#4914/#5037).
  await addStorage(orgA, projectA, { type: 'localfiles', role: 'import', path: `${root}\\ds/` });
  await addStorage(b.orgId, projectB, { type: 'localfiles', role: 'import', path: join(root, 'dsb') });
  server = await startServer({ resolve: resolveHandler, projects: projectsHandler });
});

afterAll(async () => {
  await server?.close();
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  installApp(undefined);
});

describe('serving', () => {
  it('serves a file of a connected directory with content type, weak ETag and Last-Modified; 304 on a matching If-None-Match', async () => {
    const r = await get('ds/sub/img%20one.png', { token: tokenA });
    expect(r.status).toBe(200);
    expect(r.body.equals(PNG)).toBe(true);
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.headers['content-length']).toBe(String(PNG.length));
    expect(r.headers.etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    expect(r.headers.etag.endsWith(`-${PNG.length.toString(16)}"`)).toBe(true);
    for (const inm of [r.headers.etag, `"nope", ${r.headers.etag}`, '*']) {
      const c = await get('ds/sub/img%20one.png', { token: tokenA, headers: { 'if-none-match': inm } });
      expect(c.status, inm).toBe(304);
      expect(c.headers.etag).toBe(r.headers.etag);
    }
    expect((await get('ds/sub/img%20one.png', { token: tokenA, headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('answers Range with 206 and HEAD without a body', async () => {
    const r = await get('ds/a.png', { token: tokenA, headers: { range: 'bytes=5-14' } });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 5-14/${PNG.length}`);
    expect(r.body.equals(PNG.subarray(5, 15))).toBe(true);
    const suffix = await get('ds/a.png', { token: tokenA, headers: { range: 'bytes=-4' } });
    expect(suffix.body.equals(PNG.subarray(PNG.length - 4))).toBe(true);
    expect((await get('ds/a.png', { token: tokenA, headers: { range: `bytes=${PNG.length}-` } })).status).toBe(416);
    const h = await get('ds/a.png', { token: tokenA, method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(h.headers['content-length']).toBe(String(PNG.length));
    expect(h.body.length).toBe(0);
  });

  it('refuses when serving is disabled, naming the variable; and says the storage type is unavailable where it is (AWS)', async () => {
    setEnv({ LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'false' });
    try {
      const r = await get('ds/a.png', { token: tokenA });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body.toString()).detail).toContain('LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED');
    } finally {
      setEnv({ LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true' });
    }
    setEnv({ LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'false' });
    try {
      const r = await get('ds/a.png', { token: tokenA });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body.toString()).detail).toMatch(/not available in this deployment/);
    } finally {
      setEnv({ LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'true' });
    }
  });

  it('needs d (403) and a caller (401); another organization gets 404 for the same file', async () => {
    expect((await get(undefined, { token: tokenA })).status).toBe(403);
    expect((await get('ds/a.png')).status).toBe(401);
    expect((await get('ds/a.png', { token: tokenB })).status).toBe(404);
    expect((await get('dsb/b.txt', { token: tokenB })).status).toBe(200);
    expect((await get('dsb/b.txt', { token: tokenA })).status).toBe(404);
  });
});

describe('traversal, one form per test', () => {
  const refused = async (d: string) => {
    const r = await get(d, { token: tokenA });
    expect([403, 404], `${d} → ${r.status}`).toContain(r.status);
    expect(r.body.toString()).not.toMatch(/sibling secret|outside the root|in no storage/);
  };
  it('.. segments', () => refused('ds/../ds-private/secret.txt'));
  it('.. above the root', () => refused('../../../../etc/passwd'));
  it('encoded %2e%2e%2f (decoded once by the query parser)', () => refused('ds%2F%2e%2e%2Fds-private%2Fsecret.txt'));
  it('double-encoded %252e%252e is a literal name, never decoded twice', async () => {
    await refused('ds%2F%252e%252e%252Fds-private%252Fsecret.txt');
    // The literal file named "%2e%2e" inside the storage is what a single decode names.
    const r = await get('ds%2F%252e%252e', { token: tokenA });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('literal name');
  });
  it('absolute paths', async () => {
    await refused('/etc/passwd');
    await refused(encodeURIComponent(join(outside, 'evil.txt')));
  });
  it('backslashes', () => refused('ds%5C..%5Cds-private%5Csecret.txt'));
  it('null bytes', () => refused('ds/a.png%00.txt'));
  it('a symlinked directory pointing out of the root', () => refused('ds/link-out/evil.txt'));
  it('a symlinked file pointing to a sibling directory', () => refused('ds/link-sibling.txt'));
  it('a sibling directory sharing the storage path as a prefix (/ds vs /ds-private)', () => refused('ds-private/secret.txt'));
  it('a file in the root but in no storage', () => refused('top.txt'));
});

describe('browser access through media tokens', () => {
  it('the task API appends a token to local-files URLs, and the browser fetches with it alone', async () => {
    const [id] = await addTasks(orgA, projectA, [{ $undefined$: '/data/local-files/?d=ds/sub/img%20one.png' }]);
    const task = await client(projectsHandler, tokenA)('GET', `/api/tasks/${id}`);
    const url = task.json.data.image as string;
    expect(url).toMatch(/^\/data\/local-files\/\?d=ds\/sub\/img%20one\.png&token=\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const r = await fetch(server.url + url);
    expect(r.status).toBe(200);
    expect(Buffer.from(await r.arrayBuffer()).equals(PNG)).toBe(true);

    const token = new URL(url, 'http://x').searchParams.get('token')!;
    expect((await fetch(`${server.url}/data/local-files/?d=ds/a.png&token=${token}`)).status).toBe(403);
    const altered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    expect((await fetch(`${server.url}/data/local-files/?d=ds/sub/img%20one.png&token=${altered}`)).status).toBe(403);
    const key = await processApp().signingKey();
    const expired = signLocalFilesToken(key, orgA, 'ds/a.png', 60, Math.floor(Date.now() / 1000) - 600);
    expect((await fetch(`${server.url}/data/local-files/?d=ds/a.png&token=${expired}`)).status).toBe(403);
    // A valid token of org A for a path only org B's storage connects still finds nothing.
    const forB = signLocalFilesToken(key, orgA, 'dsb/b.txt', 600);
    expect((await fetch(`${server.url}/data/local-files/?d=dsb/b.txt&token=${forB}`)).status).toBe(404);
  });
});
