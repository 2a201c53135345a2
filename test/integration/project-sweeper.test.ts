/**
 * Project deletion finishes: a delete request whose time budget runs out leaves a pending sweep,
 * and the scheduled sweeper (the real handler, run by the local schedule as `npm start` runs it)
 * removes the rest — tasks, annotations, the import storage's link pages and sync summary — then
 * the pending sweep; a second run finds nothing of the project. Real DynamoDB Local, real sync.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as projectsHandler } from '../../functions/api/projects';
import { handler as storagesHandler } from '../../functions/api/storages';
import { handler as sweeperHandler } from '../../functions/ops/sweeper';
import { deleteProject } from '../../shared/api/projects';
import { finishProjectDeletion, sweepDeletedProjects, SYNC_SETTLE_MS, type SweepResult } from '../../shared/api/project-sweep';
import { nextId } from '../../shared/db/counters';
import { putStorage } from '../../shared/db/repo-storages';
import { putTasks } from '../../shared/db/repo-tasks';
import { getAnnotation } from '../../shared/db/repo-annotations';
import { getLastSyncRun } from '../../shared/db/repo-digests';
import { getRuns } from '../../shared/db/repo-link-pages';
import { listPendingSweeps, type ProjectSweep } from '../../shared/db/repo-sweep';
import { processApp } from '../../shared/process-app';
import { importHandler, invokeLocal } from '../../local/lambda-functions';
import { startLocalSchedules } from '../../local/schedules';
import { client, type ApiHandler, type ApiResult } from './api-harness';
import { newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: (method: string, url: string, body?: unknown) => Promise<ApiResult>;
let storages: (method: string, url: string, body?: unknown) => Promise<ApiResult>;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 100 });
  api = client(projectsHandler as unknown as ApiHandler, h.token);
  storages = client(storagesHandler as unknown as ApiHandler, h.token);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
});

const db = () => processApp().db;
const pending = async (projectId: number) => (await listPendingSweeps(db(), 1000)).some((s) => s.projectId === projectId);

/** A project with `imported` tasks from the API, one annotation, and a synced local-files import storage. */
async function projectWithEverything(imported: number): Promise<{ p: number; storageId: number; annotationId: number }> {
  const p = (await api('POST', '/api/projects', { label_config: '<View><Image name="img" value="$image"/></View>' })).json.id as number;
  const dir = join(h.root, `sweep-${p}`);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 3; i++) writeFileSync(join(dir, `${i}.json`), JSON.stringify({ image: `http://x/${i}.png` }));
  const s = await newStorage(h.orgId, p, { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: false });
  expect((await storages('POST', `/api/storages/localfiles/${s.id}/sync`)).status).toBe(200);
  await h.starter.idle();
  expect((await storageOf(s.id)).status).toBe('completed');
  if (imported) expect((await api('POST', `/api/projects/${p}/import`, Array.from({ length: imported }, (_, i) => ({ image: `i${i}` })))).status).toBe(201);
  const [first] = await tasksOf(p);
  const annotation = await api('POST', `/api/tasks/${first.id}/annotations`, { result: [] });
  expect(annotation.status).toBe(201);
  expect((await getRuns(db(), s.id)).length).toBeGreaterThan(0);
  expect(await getLastSyncRun(db(), s.id)).toBeDefined();
  return { p, storageId: s.id, annotationId: annotation.json.id };
}

async function expectNothingLeft(x: { p: number; storageId: number; annotationId: number }): Promise<void> {
  expect(await tasksOf(x.p)).toEqual([]);
  expect(await getAnnotation(db(), x.annotationId)).toBeUndefined();
  expect(await getRuns(db(), x.storageId)).toEqual([]);
  expect(await getLastSyncRun(db(), x.storageId)).toBeUndefined();
  expect(await pending(x.p)).toBe(false);
}

describe('project deletion and the sweeper', () => {
  it('a small project goes within the request: tasks, annotations, the import state and no pending sweep', async () => {
    const x = await projectWithEverything(5);
    const del = await api('DELETE', `/api/projects/${x.p}`);
    expect(del.status).toBe(204);
    expect((await api('GET', `/api/projects/${x.p}`)).status).toBe(404);
    expect((await storageOf(x.storageId)).cancelled).toBe(true);
    await expectNothingLeft(x);
    expect((await api('DELETE', `/api/projects/${x.p}`)).status).toBe(404);
  });

  it('a project larger than the budget: the request leaves a pending sweep, the sweeper finishes, a second run is a no-op', async () => {
    const x = await projectWithEverything(205);
    const principal = { orgId: h.orgId } as Parameters<typeof deleteProject>[1];
    // Budget 0: one page of 200 tasks, then the request stops.
    expect(await deleteProject(processApp(), principal, x.p, 0)).toEqual({ deleted: 200, done: false });
    expect((await api('GET', `/api/projects/${x.p}`)).status).toBe(404);
    expect((await storageOf(x.storageId)).cancelled).toBe(true);
    expect((await tasksOf(x.p)).length).toBe(208 - 200);
    expect(await pending(x.p)).toBe(true);
    expect((await getRuns(db(), x.storageId)).length).toBeGreaterThan(0);

    // The local schedule invokes the manifest's sweeper module like EventBridge → Lambda would.
    const schedules = startLocalSchedules({ resolveHandler: importHandler, region: 'us-east-1', log: () => {}, runAtStart: false });
    try {
      const run = (await schedules.run('sweeper')) as SweepResult;
      expect(run.finished).toBeGreaterThanOrEqual(1);
      expect(run.tasksDeleted).toBeGreaterThanOrEqual(8);
    } finally {
      schedules.stop();
    }
    await expectNothingLeft(x);

    const again = (await invokeLocal('sweeper', sweeperHandler, {}, { region: 'us-east-1' })) as SweepResult;
    expect(again).toMatchObject({ projects: expect.any(Number), finished: again.projects });
    await expectNothingLeft(x);
  });

  it('the sweeper resumes across runs when one run cannot finish (deadline already passed: nothing is touched)', async () => {
    const x = await projectWithEverything(0);
    const principal = { orgId: h.orgId } as Parameters<typeof deleteProject>[1];
    // 3 tasks fit one page, so the budget runs out before the import state is dropped.
    expect(await deleteProject(processApp(), principal, x.p, -1)).toEqual({ deleted: 3, done: false });
    expect(await pending(x.p)).toBe(true);
    expect(await getLastSyncRun(db(), x.storageId)).toBeDefined();
    // A Lambda context with no time left: the run starts no work.
    expect(await sweepDeletedProjects(processApp(), Date.now() - 1)).toEqual({ projects: 0, finished: 0, tasksDeleted: 0 });
    expect(await pending(x.p)).toBe(true);
    await invokeLocal('sweeper', sweeperHandler, {}, { region: 'us-east-1' });
    await expectNothingLeft(x);
  });

  it('a project deleted while a sync runs keeps its pending sweep until the step in flight is over, then tasks it wrote late go too', async () => {
    const p = (await api('POST', '/api/projects', { label_config: '<View><Image name="img" value="$image"/></View>' })).json.id as number;
    const s = await newStorage(h.orgId, p, { type: 'localfiles', role: 'import', path: join(h.root, `busy-${p}`), use_blob_urls: false });
    await putStorage(db(), { ...s, id: await nextId(db(), 'storage'), status: 'in_progress' });
    expect((await api('DELETE', `/api/projects/${p}`)).status).toBe(204);
    const [sweep] = (await listPendingSweeps(db(), 1000)).filter((x) => x.projectId === p);
    expect(sweep).toMatchObject({ projectId: p, syncing: true });
    expect(sweep.storages).toHaveLength(2);
    // A chunk step still in flight writes a task of the deleted project after the request's pass.
    const now = new Date().toISOString();
    const late = { kind: 'task' as const, id: await nextId(db(), 'task'), projectId: p, orgId: h.orgId, data: { image: 'late' }, is_labeled: false, total_annotations: 0, cancelled_annotations: 0, total_predictions: 0, source: { storageId: s.id, key: 'late.json', row_index: null }, created_at: now, updated_at: now };
    await putTasks(db(), [late]);
    expect(await finishProjectDeletion(processApp(), sweep, Date.now() + 10_000)).toEqual({ deleted: 1, done: false });
    expect(await pending(p)).toBe(true);
    await putTasks(db(), [{ ...late, id: await nextId(db(), 'task') }]);
    const settled: ProjectSweep = { ...sweep, created_at: new Date(Date.now() - SYNC_SETTLE_MS - 1).toISOString() };
    expect(await finishProjectDeletion(processApp(), settled, Date.now() + 10_000)).toEqual({ deleted: 1, done: true });
    expect(await tasksOf(p)).toEqual([]);
    expect(await pending(p)).toBe(false);
  });
});
