/**
 * Path traversal in local files (CVE-2025-25295 class), through the real handlers:
 * - `GET /data/local-files/?d=` (resolve Lambda, API Gateway v2 events) with `..`, encoded,
 *   double-encoded and overlong forms, absolute paths, backslashes, null bytes, a sibling root
 *   with a common prefix, symlinks (file and directory) and hard links out of the document root;
 * - the `path` of local-files storages on create/validate (400 naming `path`);
 * - object keys written and read by the local provider (export writes, sync reads).
 * A file outside the document root holds a marker that must never appear in any response.
 */
import { linkSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as storages } from '../../functions/api/storages';
import { handler as projects } from '../../functions/api/projects';
import { handler as resolve } from '../../functions/api/resolve';
import { testRegistry } from '../contract/helpers';
import { client, newTenant, responseBodies, useTestEnvironment } from '../integration/api-harness';
const { getProvider } = testRegistry();

const MARKER = 'TOP-SECRET-OUTSIDE-THE-ROOT-5d1c';
const base = mkdtempSync(join(tmpdir(), 'labelsync-traversal-'));
const root = join(base, 'docs');
const data = join(root, 'data');
const outside = join(base, 'outside');
const evil = join(base, 'docs-evil');

let api: ReturnType<typeof client>;
let res: ReturnType<typeof client>;
let projectId: number;

beforeAll(async () => {
  for (const d of [data, outside, evil, join(data, 'sub')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(data, 'ok.txt'), 'inside');
  writeFileSync(join(data, 'sub', 'nested.txt'), 'nested');
  writeFileSync(join(outside, 'secret.txt'), MARKER);
  writeFileSync(join(outside, 'hard-source.txt'), MARKER);
  writeFileSync(join(evil, 'secret.txt'), MARKER);
  symlinkSync(join(outside, 'secret.txt'), join(data, 'link-out.txt'));
  symlinkSync(outside, join(data, 'dirlink'));
  // A hard link inside the root to a file outside it: no path check can tell it apart.
  linkSync(join(outside, 'hard-source.txt'), join(data, 'hard.txt'));
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  process.env.LABELSYNC_LOCAL_FILES_STORAGE_ENABLED = 'true';
  useTestEnvironment();
  const t = await newTenant('traversal');
  api = client(storages, t.token);
  res = client(resolve, t.token);
  projectId = (await client(projects, t.token)('POST', '/api/projects', { title: 'traversal' })).json.id;
  const created = await api('POST', '/api/storages/localfiles', { project: projectId, path: data, use_blob_urls: true });
  expect(created.status, created.text).toBe(201);
});

/** Raw (already URL-encoded as a client would send) values of `d`. */
const D_ATTACKS = [
  '../outside/secret.txt',
  '..%2Foutside%2Fsecret.txt',
  '%2e%2e%2foutside%2fsecret.txt',
  '%2E%2E/outside/secret.txt',
  '%252e%252e%252foutside%252fsecret.txt', // double-encoded
  '%25252e%25252e%25252foutside%25252fsecret.txt', // triple
  'data/../../outside/secret.txt',
  'data%2F..%2F..%2Foutside%2Fsecret.txt',
  'data/%2e%2e/%2e%2e/outside/secret.txt',
  'data/sub/../../../outside/secret.txt',
  '/../outside/secret.txt',
  '//../outside/secret.txt',
  encodeURIComponent(join(outside, 'secret.txt')), // absolute path
  join(outside, 'secret.txt'),
  encodeURIComponent(`file://${join(outside, 'secret.txt')}`),
  '..%5Coutside%5Csecret.txt', // backslashes
  'data%5C..%5C..%5Coutside%5Csecret.txt',
  '..\\outside\\secret.txt',
  'data/ok.txt%00/../../../outside/secret.txt', // null byte
  'data/ok.txt%00',
  '../outside/secret.txt%00.jpg',
  '%c0%ae%c0%ae/outside/secret.txt', // overlong UTF-8 dots
  '%e0%80%ae%e0%80%ae/outside/secret.txt',
  '..%c0%afoutside%c0%afsecret.txt',
  '....//outside/secret.txt',
  '..;/outside/secret.txt',
  '../docs-evil/secret.txt', // sibling with the root as a prefix
  'data/../../docs-evil/secret.txt',
  'data/link-out.txt', // symlink to a file outside
  'data/dirlink/secret.txt', // symlinked directory
  'data/dirlink/../secret.txt',
  'data/hard.txt', // hard link (refused: st_nlink > 1)
  '../../../../../../../../etc/passwd',
  '%2Fetc%2Fpasswd',
  '..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
  '.',
  '..',
  'data',
  '',
];

describe('local files serving: traversal attempts through GET /data/local-files/?d=', () => {
  it('control: a file of the connected storage is served (200, its bytes)', async () => {
    const ok = await res('GET', '/data/local-files/?d=data%2Fok.txt');
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('inside');
    expect((await res('GET', '/data/local-files/?d=data/sub/nested.txt')).text).toBe('nested');
  });

  it(`refuses each of ${D_ATTACKS.length} forms with 4xx (never 200/5xx) and never returns the outside file`, async () => {
    const before = responseBodies.length;
    for (const d of D_ATTACKS) {
      for (const method of ['GET', 'HEAD']) {
        const r = await res(method, `/data/local-files/?d=${d}`);
        expect([400, 403, 404], `${method} d=${d} → ${r.status} ${r.text.slice(0, 100)}`).toContain(r.status);
        expect(r.text).not.toContain(MARKER);
        expect(r.text).not.toContain('root:');
      }
    }
    expect(responseBodies.length - before).toBe(D_ATTACKS.length * 2);
  });

  it('a hard link is served by no route: files with more than one link are refused (documented decision)', async () => {
    const r = await res('GET', '/data/local-files/?d=data/hard.txt');
    expect(r.status).toBe(404);
    const p = await getProvider({ type: 'localfiles', role: 'import', path: data }, { noCache: true });
    await expect(p.read('hard.txt')).rejects.toMatchObject({ code: 'not_found' });
    await expect(p.head('hard.txt')).rejects.toMatchObject({ code: 'not_found' });
    await p.close();
  });
});

describe('local files storage path: create and validate refuse paths outside the document root', () => {
  const PATHS = [
    outside,
    join(root, '..', 'outside'),
    `${root}/../outside`,
    `${root}/data/../../outside`,
    join(data, 'dirlink'), // symlink to outside
    evil, // common prefix with the root
    root, // the root itself
    '/',
    '/etc',
    'data', // relative
    '../outside',
    `${data}\u0000`,
    `${root}\\..\\outside`,
    'C:\\Windows',
    `file://${data}`,
  ];
  it(`refuses ${PATHS.length} paths on create and validate with 400 naming path`, async () => {
    for (const p of PATHS) {
      for (const url of ['/api/storages/localfiles', '/api/storages/localfiles/validate', '/api/storages/export/localfiles']) {
        const r = await api('POST', url, { project: projectId, path: p });
        expect(r.status, `${url} ${JSON.stringify(p)} → ${r.text}`).toBe(400);
        expect(Object.keys(r.json.validation_errors ?? {}), `${url} ${JSON.stringify(p)} → ${r.text}`).toEqual(['path']);
      }
    }
  });
});

describe('local provider keys (sync reads, export writes) cannot leave the storage path', () => {
  const KEYS = ['../outside/x', '../../outside/x', '/etc/passwd', join(outside, 'x'), 'a/../../outside/x', 'sub/../../x', '..', '.', '', 'x\u0000y', 'C:\\x', 'dirlink/x', 'link-out.txt'];
  it(`write, read, head and delete refuse ${KEYS.length} hostile keys and write nothing outside`, async () => {
    const p = await getProvider({ type: 'localfiles', role: 'export', path: data }, { noCache: true });
    try {
      for (const k of KEYS) {
        await expect(p.write(k, 'pwned'), `write ${JSON.stringify(k)}`).rejects.toThrow();
        await expect(p.read(k).then((r) => r.body.resume()), `read ${JSON.stringify(k)}`).rejects.toThrow();
        await expect(p.head(k), `head ${JSON.stringify(k)}`).rejects.toThrow();
        if (k !== 'link-out.txt' && k !== 'dirlink/x') await expect(p.delete(k), `delete ${JSON.stringify(k)}`).rejects.toThrow();
      }
      // A key with a backslash is a file name on POSIX, inside the storage path.
      await p.write('a\\..\\..\\b', 'ok');
    } finally {
      await p.close();
    }
    expect(readdirSync(outside).sort()).toEqual(['hard-source.txt', 'secret.txt']);
    expect(readdirSync(base).sort()).toEqual(['docs', 'docs-evil', 'outside']);
  });

  it('a sync listing does not follow symlinks out of the root, and never lists the hard link', async () => {
    const p = await getProvider({ type: 'localfiles', role: 'import', path: data, recursive_scan: true }, { noCache: true });
    const keys: string[] = [];
    for await (const page of p.list()) keys.push(...page.entries.map((e) => e.key));
    await p.close();
    expect(keys.sort()).toEqual(['a\\..\\..\\b', 'ok.txt', 'sub/nested.txt']);
  });
});
