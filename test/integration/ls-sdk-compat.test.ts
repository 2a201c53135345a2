/**
 * Label Studio Python SDK (2.x) compatibility: the SDK's exact requests (method, path with its
 * trailing slash, `Authorization: Token …`, the SDK's headers, JSON bodies) through the projects
 * and storages handlers, against the emulators of the global setup. Covers single-task create,
 * update and delete-all (with the re-sync that follows it), `resolve_uri=false`, and where
 * connection-check failures of each storage type land (`non_field_errors`, Label Studio's sentence).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as projectsHandler } from '../../functions/api/projects';
import { handler as storagesHandler } from '../../functions/api/storages';
import { deleteAllProjectTasks } from '../../shared/api/tasks';
import { processApp } from '../../shared/process-app';
import { client, newTenant, type ApiHandler, type ApiResult } from './api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

/** The headers the SDK's generated client sends besides Authorization. */
const SDK_HEADERS = { 'x-fern-language': 'Python', 'x-fern-sdk-name': 'label-studio-sdk', 'x-fern-sdk-version': '2.1.3', 'content-type': 'application/json' };

let h: SyncHarness;
/** `LabelStudio(base_url, api_key)`: one call per SDK method used below. */
let sdk: (method: string, url: string, body?: unknown) => Promise<ApiResult>;
let storages: (method: string, url: string, body?: unknown) => Promise<ApiResult>;
let otherOrg: (method: string, url: string, body?: unknown) => Promise<ApiResult>;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 100 });
  const p = client(projectsHandler as unknown as ApiHandler, h.token);
  sdk = (method, url, body) => p(method, url, body, SDK_HEADERS);
  storages = client(storagesHandler as unknown as ApiHandler, h.token);
  otherOrg = client(projectsHandler as unknown as ApiHandler, (await newTenant('sdk-other')).token);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
});

const IMAGE_CONFIG = '<View><Image name="img" value="$image"/><Choices name="c" toName="img"><Choice value="a"/></Choices></View>';

async function sdkProject(): Promise<number> {
  const r = await sdk('POST', '/api/projects/', { title: 'sdk', label_config: IMAGE_CONFIG });
  expect(r.status).toBe(201);
  return r.json.id;
}

describe('tasks.create → POST /api/tasks/', () => {
  it('creates one task (201, data as stored) that the project lists and counts', async () => {
    const p = await sdkProject();
    const r = await sdk('POST', '/api/tasks/', { data: { image: 's3://bucket/cats/1.jpg' }, project: p, meta: { src: 'sdk' }, total_annotations: 7, inner_id: 9 });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ project: p, data: { image: 's3://bucket/cats/1.jpg' }, meta: { src: 'sdk' }, total_annotations: 0, is_labeled: false });
    const listed = (await sdk('GET', `/api/tasks/?project=${p}`)).json;
    expect(listed.tasks.map((t: { id: number }) => t.id)).toEqual([r.json.id]);
    expect((await sdk('GET', `/api/projects/${p}/`)).json.task_number).toBe(1);
  });

  it('answers LS errors: project required (400), unknown/foreign/non-numeric project 404, data required, config keys', async () => {
    const p = await sdkProject();
    const missing = await sdk('POST', '/api/tasks/', { data: { image: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.json.validation_errors).toEqual({ project: ['This field is required.'] });
    expect((await sdk('POST', '/api/tasks/', { data: { image: 'x' }, project: 99_999_999 })).status).toBe(404);
    expect((await sdk('POST', '/api/tasks/', { data: { image: 'x' }, project: 'abc' })).status).toBe(404);
    expect((await otherOrg('POST', '/api/tasks/', { data: { image: 'x' }, project: p })).status).toBe(404);
    const noData = await sdk('POST', '/api/tasks/', { project: p });
    expect(noData.json.validation_errors).toEqual({ data: ['This field is required.'] });
    expect((await sdk('POST', '/api/tasks/', { project: p, data: null })).json.validation_errors).toEqual({ data: ['This field may not be null.'] });
    const wrongKey = await sdk('POST', '/api/tasks/', { project: p, data: { text: 'no image' } });
    expect(wrongKey.status).toBe(400);
    expect(wrongKey.json.validation_errors.non_field_errors[0]).toMatch(/^"image" key is expected in task data/);
    expect((await sdk('POST', '/api/tasks/', { project: p, data: { $undefined$: 's3://b/blob.jpg' } })).status).toBe(201);
    expect((await sdk('POST', '/api/tasks/', { project: p, data: { image: 1e300 } })).json.validation_errors).toHaveProperty('data');
    expect((await sdk('GET', `/api/projects/${p}/`)).json.task_number).toBe(1);
  });
});

describe('tasks.update → PATCH /api/tasks/{id}/', () => {
  it('replaces data and meta (each whole), keeps annotations, answers data as stored', async () => {
    const p = await sdkProject();
    const t = (await sdk('POST', '/api/tasks/', { project: p, data: { image: 's3://b/1.jpg', extra: 1 }, meta: { a: 1 } })).json;
    await sdk('POST', `/api/tasks/${t.id}/annotations/`, { result: [{ v: 1 }] });
    const r = await sdk('PATCH', `/api/tasks/${t.id}/`, { data: { image: 's3://b/2.jpg' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: t.id, data: { image: 's3://b/2.jpg' }, meta: { a: 1 }, total_annotations: 1, is_labeled: true });
    expect(r.json.annotations).toHaveLength(1);
    const m = await sdk('PATCH', `/api/tasks/${t.id}/`, { meta: { b: 2 }, total_annotations: 50, is_labeled: false });
    expect(m.json).toMatchObject({ data: { image: 's3://b/2.jpg' }, meta: { b: 2 }, total_annotations: 1, is_labeled: true });
    expect((await sdk('GET', `/api/tasks/${t.id}/?resolve_uri=false`)).json).toMatchObject({ data: { image: 's3://b/2.jpg' }, meta: { b: 2 } });
  });

  it('validates like create, refuses moving projects, and hides other organizations (404)', async () => {
    const p = await sdkProject();
    const p2 = await sdkProject();
    const t = (await sdk('POST', '/api/tasks/', { project: p, data: { image: 'x' } })).json;
    expect((await sdk('PATCH', `/api/tasks/${t.id}/`, { data: null })).json.validation_errors).toEqual({ data: ['This field may not be null.'] });
    expect((await sdk('PATCH', `/api/tasks/${t.id}/`, { data: [1] })).json.validation_errors.data[0]).toMatch(/dictionary/);
    expect((await sdk('PATCH', `/api/tasks/${t.id}/`, { data: { other: 1 } })).json.validation_errors.non_field_errors[0]).toMatch(/"image" key is expected/);
    const move = await sdk('PATCH', `/api/tasks/${t.id}/`, { project: p2 });
    expect(move.status).toBe(400);
    expect(move.json.validation_errors).toHaveProperty('project');
    expect((await sdk('PATCH', `/api/tasks/${t.id}/`, { project: p, data: { image: 'y' } })).status).toBe(200);
    expect((await sdk('PATCH', `/api/tasks/${t.id}/`, { data: { image: 'x'.repeat(400 * 1024) } })).status).toBe(413);
    expect((await otherOrg('PATCH', `/api/tasks/${t.id}/`, { data: { image: 'stolen' } })).status).toBe(404);
    expect((await sdk('PATCH', '/api/tasks/99999999/', { data: { image: 'x' } })).status).toBe(404);
    expect((await sdk('GET', `/api/tasks/${t.id}/`)).json.data).toEqual({ image: 'y' });
  });
});

describe('tasks.list / tasks.get with resolve_uri', () => {
  it('resolve_uri=false returns the stored s3:// data on list and single task; default resolves; bad value 400', async () => {
    const p = await sdkProject();
    await newStorage(h.orgId, p, { type: 's3', role: 'import', bucket: 'sdk-bucket', prefix: '', use_blob_urls: true, presign: false } as never);
    const t = (await sdk('POST', '/api/tasks/', { project: p, data: { image: 's3://sdk-bucket/cats/1.jpg', caption: 'plain' } })).json;
    expect(t.data.image).toBe('s3://sdk-bucket/cats/1.jpg');
    const resolved = (await sdk('GET', `/api/tasks/?project=${p}&page=1&page_size=100`)).json.tasks[0].data;
    expect(resolved.image).toMatch(/\/tasks\/\d+\/resolve\/?\?fileuri=/);
    for (const spelling of ['false', 'False', '0', 'off', 'no']) {
      const raw = (await sdk('GET', `/api/tasks/?project=${p}&resolve_uri=${spelling}`)).json.tasks[0].data;
      expect(raw, spelling).toEqual({ image: 's3://sdk-bucket/cats/1.jpg', caption: 'plain' });
    }
    expect((await sdk('GET', `/api/tasks/${t.id}/?resolve_uri=false`)).json.data).toEqual({ image: 's3://sdk-bucket/cats/1.jpg', caption: 'plain' });
    expect((await sdk('GET', `/api/tasks/${t.id}/?resolve_uri=true`)).json.data.image).toMatch(/fileuri=/);
    const bad = await sdk('GET', `/api/tasks/?project=${p}&resolve_uri=maybe`);
    expect(bad.status).toBe(400);
    expect(bad.json.validation_errors).toHaveProperty('resolve_uri');
  });
});

describe('tasks.delete_all_tasks → DELETE /api/projects/{id}/tasks/', () => {
  it('deletes every task and annotation (204, empty body), and a re-sync imports the objects again', async () => {
    const dir = join(h.root, `del-all-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(join(dir, `${i}.json`), JSON.stringify({ image: `http://x/${i}.png` }));
    const p = await newProject(h.orgId, ['image']);
    const s = await newStorage(h.orgId, p, { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: false });
    const sync = async () => {
      expect((await storages('POST', `/api/storages/localfiles/${s.id}/sync`)).status).toBe(200);
      await h.starter.idle();
      expect((await storageOf(s.id)).status).toBe('completed');
    };
    await sync();
    const first = await tasksOf(p);
    expect(first).toHaveLength(3);
    await sdk('POST', `/api/tasks/${first[0].id}/annotations/`, { result: [] });
    // A single delete leaves a tombstone (that task is not re-imported); delete-all resets that too.
    expect((await sdk('DELETE', `/api/tasks/${first[1].id}/`)).status).toBe(204);
    await sdk('POST', '/api/tasks/', { project: p, data: { image: 'manual' } });

    expect((await otherOrg('DELETE', `/api/projects/${p}/tasks/`)).status).toBe(404);
    const del = await sdk('DELETE', `/api/projects/${p}/tasks/`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect(await tasksOf(p)).toEqual([]);
    expect((await sdk('GET', `/api/projects/${p}/`)).json).toMatchObject({ task_number: 0, total_annotations_number: 0 });
    expect((await sdk('GET', `/api/tasks/${first[0].id}/annotations/`)).status).toBe(404);
    expect((await sdk('DELETE', `/api/projects/${p}/tasks/`)).status).toBe(204);

    await sync();
    const again = await tasksOf(p);
    expect(again.map((t) => t.data.image).sort()).toEqual(['http://x/0.png', 'http://x/1.png', 'http://x/2.png']);
    expect(Math.min(...again.map((t) => t.id))).toBeGreaterThan(Math.max(...first.map((t) => t.id)));
  });

  it('stops at its time budget with done=false and leaves the storages alone (the route answers 202)', async () => {
    const p = await sdkProject();
    await sdk('POST', `/api/projects/${p}/import/`, Array.from({ length: 205 }, (_, i) => ({ image: `i${i}` })));
    const principal = { orgId: h.orgId } as Parameters<typeof deleteAllProjectTasks>[1];
    const partial = await deleteAllProjectTasks(processApp(), principal, p, 0);
    expect(partial).toEqual({ deleted: 200, done: false });
    expect((await sdk('GET', `/api/projects/${p}/`)).json.task_number).toBe(5);
    expect(await deleteAllProjectTasks(processApp(), principal, p, 0)).toEqual({ deleted: 5, done: true });
  });
});
