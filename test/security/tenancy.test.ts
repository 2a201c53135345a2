/**
 * Tenancy: every route of the projects, storages and resolve functions (taken from their routers,
 * so a new route is covered automatically), called by organization B with organization A's ids,
 * answers 404 (a foreign project in a body: 400 naming `project`, Label Studio's answer) and
 * changes nothing. Signed media URLs cannot be replayed for another task, project, URI,
 * organization or local-files path, nor after expiry, nor altered.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storages, isPushRequest, router as storagesRouter } from '../../functions/api/storages';
import { handler as projects, router as projectsRouter } from '../../functions/api/projects';
import { handler as resolve } from '../../functions/api/resolve';
import { processApp } from '../../shared/process-app';
import { signLocalFilesToken, signMediaToken } from '../../shared/resolve/media-token';
import { createEmulatorS3Client } from '../emulators/s3-client';
import { createS3Buckets } from '../contract/helpers';
import { client, newTenant, useTestEnvironment, patchApp } from '../integration/api-harness';

const em = inject('emulators');
const root = mkdtempSync(join(tmpdir(), 'labelsync-tenancy-'));
const BUCKET = 'tenancy-media';

interface Tenant {
  orgId: string;
  api: ReturnType<typeof client>;
  apiP: ReturnType<typeof client>;
  res: ReturnType<typeof client>;
  anon: ReturnType<typeof client>;
  projectId: number;
  taskId: number;
  annotationId: number;
  storageIds: Record<string, number>;
  exportStorageId: number;
}

let A: Tenant;
let B: Tenant;

async function tenant(name: string): Promise<Tenant> {
  const t = await newTenant(name);
  const api = client(storages, t.token);
  const apiP = client(projects, t.token);
  const projectId = (await apiP('POST', '/api/projects', { title: name, label_config: '<View><Image name="i" value="$image"/></View>' })).json.id;
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pic.png'), `png-of-${name}`);
  const s3 = await api('POST', '/api/storages/s3', {
    project: projectId,
    bucket: BUCKET,
    s3_endpoint: em.s3.endpoint,
    region_name: em.s3.region,
    aws_access_key_id: em.s3.accessKeyId,
    aws_secret_access_key: em.s3.secretAccessKey,
    presign: true,
  });
  expect(s3.status, s3.text).toBe(201);
  const local = await api('POST', '/api/storages/localfiles', { project: projectId, path: dir });
  expect(local.status, local.text).toBe(201);
  const exp = await api('POST', '/api/storages/export/localfiles', { project: projectId, path: dir });
  expect(exp.status, exp.text).toBe(201);
  const imported = await apiP('POST', `/api/projects/${projectId}/import`, [{ image: `s3://${BUCKET}/${name}.png` }, { image: `/data/local-files/?d=${name}/pic.png` }]);
  expect(imported.status).toBe(201);
  const list = await apiP('GET', `/api/tasks?project=${projectId}`);
  const tasks = (list.json.tasks ?? list.json.results) as { id: number }[];
  const annotation = await apiP('POST', `/api/tasks/${tasks[0].id}/annotations`, { result: [{ value: { choices: ['x'] } }] });
  expect(annotation.status).toBe(201);
  return {
    orgId: t.orgId,
    api,
    apiP,
    res: client(resolve, t.token),
    anon: client(resolve),
    projectId,
    taskId: tasks[0].id,
    annotationId: annotation.json.id,
    storageIds: { s3: s3.json.id, localfiles: local.json.id },
    exportStorageId: exp.json.id,
  };
}

beforeAll(async () => {
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  useTestEnvironment();
  // Export storages here need no initial export sync (no starter in this file).
  patchApp({ onExportStorageCreated: async () => undefined });
  await createS3Buckets(em.s3.endpoint, em.s3, em.s3.region, [BUCKET]);
  const s3 = createEmulatorS3Client(em.s3);
  for (const n of ['tenant-a', 'tenant-b']) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${n}.png`, Body: `png-of-${n}` }));
  s3.destroy();
  A = await tenant('tenant-a');
  B = await tenant('tenant-b');
}, 120_000);

/** Fills a route pattern with A's ids; type-parameterised routes use the type whose id is used. */
function fill(pattern: string, type: string, id: number): string {
  return pattern
    .replace('{type}', type)
    .replace(/\{id\}/, String(id));
}

describe('tenancy: B cannot reach A through any route', () => {
  it('every projects/tasks/annotations route with A ids → 404 for B, and A data unchanged', async () => {
    const routes = projectsRouter.list().filter((r) => r.pattern.includes('{id}'));
    expect(routes.length).toBeGreaterThanOrEqual(9);
    for (const r of routes) {
      const id = r.pattern.startsWith('/api/projects') ? A.projectId : r.pattern.startsWith('/api/annotations') ? A.annotationId : A.taskId;
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : r.pattern.endsWith('/import') ? [{ image: 'x' }] : { title: 'pwned', result: [] };
      const out = await B.apiP(r.method, fill(r.pattern, '', id), body);
      expect(out.status, `${r.method} ${r.pattern}: ${out.text.slice(0, 120)}`).toBe(404);
    }
    // Listing with A's project as a filter.
    expect((await B.apiP('GET', `/api/tasks?project=${A.projectId}`)).status).toBe(404);
    expect((await A.apiP('GET', `/api/projects/${A.projectId}`)).json.title).toBe('tenant-a');
    expect((await A.apiP('GET', `/api/tasks/${A.taskId}`)).status).toBe(200);
    expect((await A.apiP('GET', `/api/annotations/${A.annotationId}`)).json.result).toEqual([{ value: { choices: ['x'] } }]);
  });

  it('every storage route with A ids → 404 for B (foreign project in a body → 400 naming project), and A storages unchanged', async () => {
    const routes = storagesRouter.list();
    let checked = 0;
    for (const r of routes) {
      const exp = r.pattern.startsWith('/api/storages/export');
      for (const type of ['s3', 'localfiles']) {
        const id = exp ? A.exportStorageId : A.storageIds[type];
        if (exp && type !== 'localfiles') continue;
        const url = fill(r.pattern, type, id);
        if (r.pattern.includes('{id}')) {
          const out = await B.api(r.method, url, r.method === 'GET' || r.method === 'DELETE' ? undefined : { title: 'pwned', project: B.projectId });
          // Notifier push endpoints take no Token at all: B's token proves nothing there (401).
          const push = isPushRequest({ method: r.method, path: url, headers: {}, query: {}, body: undefined, isBase64Encoded: false });
          expect(out.status, `${r.method} ${url}: ${out.text.slice(0, 120)}`).toBe(push ? 401 : 404);
          checked++;
        } else if (r.method === 'GET' && !url.endsWith('/types')) {
          const out = await B.api('GET', `${url}?project=${A.projectId}`);
          expect(out.status, `GET ${url}?project=A: ${out.text.slice(0, 120)}`).toBe(404);
          checked++;
        } else if (r.method === 'POST') {
          // Create / validate / preview against A's project, and validate/preview of A's storage by id.
          const out = await B.api('POST', url, { project: A.projectId, path: join(root, 'tenant-b') });
          expect([400, 404], `POST ${url}: ${out.text.slice(0, 160)}`).toContain(out.status);
          if (out.status === 400) expect(Object.keys(out.json.validation_errors)).toContain('project');
          if (url.endsWith('/validate') || url.endsWith('/files')) {
            const byId = await B.api('POST', url, { id });
            expect(byId.status, `POST ${url} {id: A}: ${byId.text.slice(0, 160)}`).toBe(404);
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(15);
    const s = await A.api('GET', `/api/storages/s3/${A.storageIds.s3}`);
    expect(s.json).toMatchObject({ title: null, status: 'initialized' });
    expect((await A.api('GET', `/api/storages/export/localfiles/${A.exportStorageId}`)).status).toBe(200);
  });

  it('resolve and local-files routes with A ids → 404 for B; A media through B storage paths → 404', async () => {
    const fileuri = Buffer.from(`s3://${BUCKET}/tenant-a.png`).toString('base64url');
    for (const url of [`/tasks/${A.taskId}/resolve/?fileuri=${fileuri}`, `/tasks/${A.taskId}/presign/?fileuri=${fileuri}`, `/projects/${A.projectId}/resolve/?fileuri=${fileuri}`, `/projects/${A.projectId}/presign/?fileuri=${fileuri}`]) {
      const out = await B.res('GET', url);
      expect(out.status, url).toBe(404);
    }
    // Local files are served only from directories of the caller's own storages.
    expect((await B.res('GET', '/data/local-files/?d=tenant-a/pic.png')).status).toBe(404);
    expect((await A.res('GET', '/data/local-files/?d=tenant-a/pic.png')).status).toBe(200);
  });
});

describe('signed media URLs', () => {
  it('a media token works for its own task and URI only: other task, project, URI, organization, altered or expired → 403', async () => {
    const task = await A.apiP('GET', `/api/tasks/${A.taskId}`);
    const url = new URL(task.json.data.image as string, 'http://x');
    const token = url.searchParams.get('token')!;
    const fileuri = url.searchParams.get('fileuri')!;
    expect(token).toMatch(/^\d+\./);
    const ok = await A.anon('GET', `${url.pathname}?fileuri=${fileuri}&token=${token}`);
    expect(ok.status).toBe(303);
    const otherUri = Buffer.from(`s3://${BUCKET}/tenant-b.png`).toString('base64url');
    const [, sig] = token.split('.');
    const key = await processApp().signingKey();
    const expired = signMediaToken(key, { orgId: A.orgId, scope: 'task', id: A.taskId, uri: `s3://${BUCKET}/tenant-a.png` }, 60, Math.floor(Date.now() / 1000) - 3600);
    const attempts: [string, number[]][] = [
      [`/tasks/${A.taskId + 1}/resolve/?fileuri=${fileuri}&token=${token}`, [403, 404]], // another task
      [`/tasks/${B.taskId}/resolve/?fileuri=${fileuri}&token=${token}`, [403, 404]], // another org's task
      [`/projects/${A.projectId}/resolve/?fileuri=${fileuri}&token=${token}`, [403]], // task token on the project route
      [`/tasks/${A.taskId}/resolve/?fileuri=${otherUri}&token=${token}`, [403]], // another URI
      [`/tasks/${A.taskId}/resolve/?fileuri=${fileuri}&token=${Number(token.split('.')[0]) + 3600}.${sig}`, [403]], // extended expiry
      [`/tasks/${A.taskId}/resolve/?fileuri=${fileuri}&token=${token.slice(0, -2)}AA`, [403]], // altered signature
      [`/tasks/${A.taskId}/resolve/?fileuri=${fileuri}&token=${expired}`, [403]], // expired
      [`/tasks/${A.taskId}/resolve/?fileuri=${fileuri}&token=`, [401]],
      [`/tasks/${A.taskId}/resolve/?fileuri=${fileuri}`, [401]],
    ];
    for (const [u, statuses] of attempts) {
      const out = await A.anon('GET', u);
      expect(statuses, `${u} → ${out.status} ${out.text.slice(0, 100)}`).toContain(out.status);
    }
  });

  it('a local-files token is bound to its path and organization, and expires', async () => {
    const task = await A.apiP('GET', `/api/tasks/${A.taskId + 1}`);
    const url = new URL(task.json.data.image as string, 'http://x');
    const token = url.searchParams.get('token')!;
    expect((await A.anon('GET', `/data/local-files/?d=tenant-a/pic.png&token=${token}`)).text).toBe('png-of-tenant-a');
    const key = await processApp().signingKey();
    const forged = signLocalFilesToken(key, B.orgId, 'tenant-a/pic.png', 600); // B's org claim for A's file
    const expired = signLocalFilesToken(key, A.orgId, 'tenant-a/pic.png', 60, Math.floor(Date.now() / 1000) - 3600);
    for (const [u, statuses] of [
      [`/data/local-files/?d=tenant-b/pic.png&token=${token}`, [403]],
      [`/data/local-files/?d=tenant-a/../tenant-b/pic.png&token=${token}`, [403, 404]],
      [`/data/local-files/?d=tenant-a/pic.png&token=${forged}`, [404]],
      [`/data/local-files/?d=tenant-a/pic.png&token=${expired}`, [403]],
      [`/data/local-files/?d=tenant-a/pic.png&token=${token}x`, [403]],
    ] as [string, number[]][]) {
      const out = await A.anon('GET', u);
      expect(statuses, `${u} → ${out.status}`).toContain(out.status);
      expect(out.text).not.toContain('png-of');
    }
  });
});
