/**
 * Tenancy of local files, through the real handlers (storages, resolve) and the real sync steps:
 * - the service's data directory (secret.key, api-token) is refused as, above or inside a storage
 *   on create, validate and files preview, and is never served;
 * - a document root `/` with serving on is refused at start;
 * - with serving off every local-files route is refused, the files preview of `/etc` included;
 * - a directory belongs to the organization that attached it first: another organization is
 *   refused on it, above it and inside it, racing for it cannot make both win, and serving for
 *   the other organization does not reach into it;
 * - a path outside the document root gets one answer whether or not it exists;
 * - hard-linked files left out by a sync are counted in `meta.hard_links_skipped`.
 */
import { existsSync, linkSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runtimeStateFile, startRuntime } from '../../local/runtime';
import { handler as projects } from '../../functions/api/projects';
import { handler as resolve } from '../../functions/api/resolve';
import { handler as storages } from '../../functions/api/storages';
import { DIR_UNAVAILABLE } from '../../shared/api/local-dirs';
import { createApp } from '../../shared/app';
import { parseEnv } from '../../shared/config/env';
import { loadLocalMasterKey } from '../../shared/crypto/secret-box';
import { SERVING_DISABLED_MESSAGE } from '../../shared/storage/providers/local';
import type { StorageItem } from '../../shared/db/items';
import { getStorage } from '../../shared/db/repo-storages';
import { processApp } from '../../shared/process-app';
import { chunkStep } from '../../shared/sync/chunk-step';
import { finalizeStep } from '../../shared/sync/finalize-step';
import { listStep } from '../../shared/sync/list-step';
import { startStep } from '../../shared/sync/start-step';
import type { SyncExecutionInput, SyncStarter } from '../../shared/sync/starter';
import { client, newTenant, patchApp, useTestEnvironment } from '../integration/api-harness';
import { newStorage } from '../integration/sync-helpers';

const MARKER = 'API-TOKEN-OF-THE-FIRST-ORG-7f3e';
const base = mkdtempSync(join(tmpdir(), 'labelsync-lf-tenancy-'));
const root = join(base, 'docs');
/** The data directory the service uses from the second app on: inside the document root. */
let svcData: string;

interface Org {
  orgId: string;
  token: string;
  api: ReturnType<typeof client>;
  res: ReturnType<typeof client>;
  projectId: number;
}
let A: Org;
let B: Org;

async function org(title: string): Promise<Org> {
  const t = await newTenant(title);
  const projectId = (await client(projects, t.token)('POST', '/api/projects', { title, label_config: '<View><Image name="i" value="$image"/></View>' })).json.id;
  return { orgId: t.orgId, token: t.token, api: client(storages, t.token), res: client(resolve, t.token), projectId };
}

/** Makes `rel` (with files) under the document root and returns its absolute path. */
function dir(rel: string, files: Record<string, string> = {}): string {
  const d = join(root, rel);
  mkdirSync(d, { recursive: true });
  for (const [k, v] of Object.entries(files)) writeFileSync(join(d, k), v);
  return d;
}

const errorsOf = (r: { json: { validation_errors?: Record<string, string[]> } }) => r.json.validation_errors ?? {};

/**
 * Runs a sync job in-process with the step functions the state machine's Task states call, in
 * the machine's order (start, list until done with each step's chunks, finalize), without the
 * seconds of CDK synthesis the local ASL runner needs; the machine itself is tested elsewhere.
 */
function inProcessStarter(): SyncStarter & { idle: () => Promise<void> } {
  const running: Promise<void>[] = [];
  const run = async (input: SyncExecutionInput) => {
    const deps = processApp().syncDeps();
    let error: { Error: string; Cause: string } | null = null;
    try {
      if ((await startStep(deps, input)).started) {
        for (let token: string | null = null, done = false; !done; ) {
          const step = await listStep(deps, { ...input, token }, Date.now() + 10_000);
          for (const c of step.chunks) await chunkStep(deps, { ...input, chunk: c.chunk });
          ({ token, done } = step);
        }
      }
    } catch (e) {
      error = { Error: (e as Error).name, Cause: (e as Error).message };
    }
    await finalizeStep(deps, { ...input, error });
  };
  return {
    start: async (input) => void running.push(run(input)),
    idle: async () => void (await Promise.all(running.splice(0))),
  };
}
const starter = inProcessStarter();
const storageOf = async (id: number) => (await getStorage(processApp().db, id))!;

beforeAll(async () => {
  mkdirSync(root);
  process.env.LABELSYNC_DATA_DIR = join(base, 'data-elsewhere');
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  process.env.LABELSYNC_LOCAL_FILES_STORAGE_ENABLED = 'true';
  useTestEnvironment({ syncStarter: starter, onExportStorageCreated: async () => undefined });
  A = await org('lf-a');
  B = await org('lf-b');
  // A storage made while the data directory lived elsewhere (an operator moving LABELSYNC_DATA_DIR later).
  dir('app', { 'readme.txt': 'readme' });
  const legacy = await A.api('POST', '/api/storages/localfiles', { project: A.projectId, path: join(root, 'app') });
  expect(legacy.status, legacy.text).toBe(201);
  svcData = dir('app/svc-data', { 'api-token': MARKER });
  mkdirSync(join(svcData, 'sub'));
  await loadLocalMasterKey(svcData);
  patchApp({}, { LABELSYNC_DATA_DIR: svcData });
}, 60_000);

afterAll(async () => {
  await starter.idle();
});

describe('the data directory (secret.key, api-token) is never a storage and never served', () => {
  it('create, validate and files preview refuse the data directory, a parent of it and a path inside it (400 naming path)', async () => {
    for (const p of [() => svcData, () => join(root, 'app'), () => join(svcData, 'sub')].map((f) => f())) {
      for (const [route, body] of [
        ['/api/storages/localfiles', { project: A.projectId, path: p }],
        ['/api/storages/localfiles/validate', { path: p }],
        ['/api/storages/localfiles/files', { path: p }],
        ['/api/storages/export/localfiles', { project: A.projectId, path: p }],
      ] as const) {
        const r = await A.api('POST', route, body);
        expect(r.status, `${route} ${p}: ${r.text}`).toBe(400);
        expect(errorsOf(r).path?.[0], route).toMatch(/data directory \(LABELSYNC_DATA_DIR\)/);
        expect(r.text).not.toContain('secret.key');
      }
    }
  });

  it('serving never returns a file of the data directory, even through a storage that contains it', async () => {
    expect((await A.res('GET', '/data/local-files/?d=app/readme.txt')).text).toBe('readme');
    for (const f of ['secret.key', 'api-token']) {
      const r = await A.res('GET', `/data/local-files/?d=app/svc-data/${f}`);
      expect(r.status, f).toBe(404);
      expect(r.text).not.toContain(MARKER);
    }
  });
});

describe('local files serving and the document root `/`', () => {
  it("refuses to start with serving on and the document root '/' (either variable name), names the variable", () => {
    const base = { LABELSYNC_TABLE: 't', LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true' };
    expect(() => parseEnv({ ...base, LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: '/' })).toThrow(/^invalid environment: LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT must not be '\/'/);
    expect(() => createApp({ ...base, LOCAL_FILES_DOCUMENT_ROOT: '//' })).toThrow(/invalid environment: LOCAL_FILES_DOCUMENT_ROOT must not be '\/'/);
    // Serving off, or no local-files type at all: the root is not used, so `/` is no danger.
    expect(parseEnv({ LABELSYNC_TABLE: 't', LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: '/' }).localFilesDocumentRoot).toBe('/');
    expect(() => parseEnv({ ...base, LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: '/', LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'false' })).not.toThrow();
  });

  it("npm start's runtime refuses to start with serving on and the document root '/', before listening", async () => {
    const saved = { ...process.env };
    const dataDir = join(base, 'runtime-data');
    try {
      Object.assign(process.env, { LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true', LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: '/' });
      const em = inject('emulators');
      const start = startRuntime({ port: 0, dataDir, dynamodbEndpoint: em.dynamodb.endpoint, tableName: inject('tableName'), stream: false, log: () => undefined });
      await expect(start).rejects.toThrow(/invalid environment: LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT must not be '\/'/);
      expect(existsSync(runtimeStateFile(dataDir))).toBe(false);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('the default document root is the dedicated ./label-studio-data folder, not /', () => {
    expect(parseEnv({ LABELSYNC_TABLE: 't', LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true' }).localFilesDocumentRoot).toBe(join(process.cwd(), 'label-studio-data'));
  });

  it('with serving off every local-files route is refused: create, validate, files preview (of /etc too), sync, serve', async () => {
    const ds = dir('off', { 'a.json': '{"image":"x"}' });
    const existing = await newStorage(A.orgId, A.projectId, { type: 'localfiles', role: 'import', path: ds });
    patchApp({}, { LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'false', LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: '/' });
    try {
      for (const [route, body] of [
        ['/api/storages/localfiles', { project: A.projectId, path: ds }],
        ['/api/storages/localfiles/validate', { path: ds }],
        ['/api/storages/localfiles/files', { path: ds }],
        ['/api/storages/localfiles/files', { path: '/etc' }],
      ] as const) {
        const r = await A.api('POST', route, body);
        expect(r.status, `${route} ${body.path}: ${r.text}`).toBe(400);
        expect(errorsOf(r).path).toEqual([SERVING_DISABLED_MESSAGE]);
        expect(r.text).not.toContain('passwd');
      }
      const s = await A.api('POST', `/api/storages/localfiles/${existing.id}/sync`);
      expect(s.status, s.text).toBe(400);
      expect(errorsOf(s).path).toEqual([SERVING_DISABLED_MESSAGE]);
      await starter.idle();
      expect((await storageOf(existing.id)).last_sync_job).toBeNull();
      expect((await A.res('GET', '/data/local-files/?d=off/a.json')).status).toBe(403);
    } finally {
      patchApp({}, { LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true', LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: root });
    }
  });
});

describe('a directory belongs to the organization that attached it first', () => {
  let owned: string;
  let legacy: StorageItem | undefined;
  beforeAll(async () => {
    owned = dir('grp/a', { 'f.txt': 'file-of-a' });
    dir('grp/a/sub');
    dir('grp/b', { 'g.txt': 'file-of-b' });
    const r = await A.api('POST', '/api/storages/localfiles', { project: A.projectId, path: owned });
    expect(r.status, r.text).toBe(201);
  });

  it('another organization is refused on it, on a parent and inside it (create, validate, preview; both roles), one generic message', async () => {
    for (const p of [owned, join(root, 'grp'), join(owned, 'sub'), `${owned}/`, `${root}/grp/b/../a`]) {
      for (const [route, body] of [
        ['/api/storages/localfiles', { project: B.projectId, path: p }],
        ['/api/storages/localfiles/validate', { path: p }],
        ['/api/storages/localfiles/files', { path: p }],
        ['/api/storages/export/localfiles', { project: B.projectId, path: p }],
        ['/api/storages/export/localfiles/validate', { path: p }],
      ] as const) {
        const r = await B.api('POST', route, body);
        expect(r.status, `${route} ${p}: ${r.text}`).toBe(400);
        expect(errorsOf(r).path).toEqual([DIR_UNAVAILABLE]);
        expect(r.text).not.toContain('f.txt');
      }
    }
  });

  it('the owner keeps using it (a second storage, either role) and the other organization gets a sibling', async () => {
    expect((await A.api('POST', '/api/storages/export/localfiles', { project: A.projectId, path: owned })).status).toBe(201);
    expect((await A.api('POST', '/api/storages/localfiles/files', { path: owned })).json.files.map((f: { key: string }) => f.key)).toContain(join(owned, 'f.txt'));
    const sib = await B.api('POST', '/api/storages/localfiles', { project: B.projectId, path: join(root, 'grp', 'b') });
    expect(sib.status, sib.text).toBe(201);
    const moved = await B.api('PATCH', `/api/storages/localfiles/${sib.json.id}`, { path: owned });
    expect(moved.status, moved.text).toBe(400);
    expect(errorsOf(moved).path).toEqual([DIR_UNAVAILABLE]);
    // Now B owns grp/b: A may not take the parent that holds both.
    expect(errorsOf(await A.api('POST', '/api/storages/localfiles/validate', { path: join(root, 'grp') })).path).toEqual([DIR_UNAVAILABLE]);
  });

  it("serving for the other organization does not reach into it, even through that organization's storage on a parent", async () => {
    // A storage B made before directories had owners: its path is a parent of A's directory.
    legacy = await newStorage(B.orgId, B.projectId, { type: 'localfiles', role: 'import', path: join(root, 'grp') });
    expect((await A.res('GET', '/data/local-files/?d=grp/a/f.txt')).text).toBe('file-of-a');
    expect((await B.res('GET', '/data/local-files/?d=grp/b/g.txt')).text).toBe('file-of-b');
    const r = await B.res('GET', '/data/local-files/?d=grp/a/f.txt');
    expect(r.status).toBe(404);
    expect(r.text).not.toContain('file-of-a');
  });

  it("nor does a sync of that older storage import the owner's files (refused at the job's start)", async () => {
    writeFileSync(join(owned, 'task.json'), '{"image":"of-a"}');
    expect((await B.api('POST', `/api/storages/localfiles/${legacy!.id}/sync`)).status).toBe(200);
    await starter.idle();
    const after = await storageOf(legacy!.id);
    expect({ status: after.status, traceback: after.traceback }).toEqual({ status: 'failed', traceback: expect.stringContaining(DIR_UNAVAILABLE) });
    const tasks = await client(projects, B.token)('GET', `/api/tasks?project=${B.projectId}`);
    expect(tasks.status).toBe(200);
    expect(tasks.text).not.toContain('of-a');
  });

  it('two organizations racing for one directory (or a parent and a child) never both win', async () => {
    const C = await org('lf-c');
    const D = await org('lf-d');
    const same = dir('race/x');
    const [c, d] = await Promise.all([C, D].map((o) => o.api('POST', '/api/storages/localfiles', { project: o.projectId, path: same })));
    expect([c.status, d.status].sort()).toEqual([201, 400]);
    const child = dir('race2/x');
    const [p, q] = await Promise.all([
      C.api('POST', '/api/storages/localfiles', { project: C.projectId, path: join(root, 'race2') }),
      D.api('POST', '/api/storages/localfiles', { project: D.projectId, path: child }),
    ]);
    expect([p.status, q.status], `${p.text} ${q.text}`).not.toEqual([201, 201]);
  });
});

describe('no existence oracle outside the document root', () => {
  it('an existing and a missing path outside the root get the same answer', async () => {
    const outside = join(base, 'outside');
    mkdirSync(outside);
    const answers = await Promise.all(
      [outside, join(base, 'missing')].map(async (p) => {
        const r = await A.api('POST', '/api/storages/localfiles/validate', { path: p });
        expect(r.status).toBe(400);
        return { status: r.status, message: errorsOf(r).path?.[0]?.replace(p, '<p>') };
      }),
    );
    expect(answers[0].message).toMatch(/must be a subdirectory of LOCAL_FILES_DOCUMENT_ROOT/);
    expect(answers[1]).toEqual(answers[0]);
  });
});

describe('hard links', () => {
  it('a sync counts the hard-linked files it leaves out in meta.hard_links_skipped', async () => {
    const ds = dir('hl', { 'a.json': '{"image":"a"}', 'b.json': '{"image":"b"}' });
    writeFileSync(join(base, 'outside-task.json'), '{"image":"outside"}');
    linkSync(join(ds, 'a.json'), join(ds, 'a-again.json'));
    linkSync(join(base, 'outside-task.json'), join(ds, 'c.json'));
    const created = await A.api('POST', '/api/storages/localfiles', { project: A.projectId, path: ds });
    expect(created.status, created.text).toBe(201);
    expect((await A.api('POST', `/api/storages/localfiles/${created.json.id}/sync`)).status).toBe(200);
    await starter.idle();
    const after = await storageOf(created.json.id);
    expect({ status: after.status, count: after.last_sync_count }).toEqual({ status: 'completed', count: 1 });
    expect((after.meta as Record<string, unknown>).hard_links_skipped).toBe(3);
    const listed = await A.api('GET', `/api/storages/localfiles/${created.json.id}`);
    expect(listed.json.meta.hard_links_skipped).toBe(3);
  });
});
