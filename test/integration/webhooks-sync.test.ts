/**
 * Sync events end to end: a local-files import sync on the real state machine (local ASL runner)
 * emits TASKS_CREATED per chunk of new tasks and STORAGE_SYNC_COMPLETED with the job's counters,
 * delivered to a real HTTP receiver; the same events land in the local event-bus file. An execution
 * that dies sends STORAGE_SYNC_FAILED, a target that starts failing EXPORT_FAILED. The
 * in-process delivery queue stands in for SQS (no SQS emulator here).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { handler as webhooksHandler } from '../../functions/api/webhooks';
import { processApp } from '../../shared/process-app';
import { LOCAL_EVENTS_FILE } from '../../shared/webhooks/event-bus';
import { verifySignature } from '../../shared/webhooks/signature';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../shared/db/keys';
import { finalizeFailedExecution } from '../../shared/sync/execution-failed';
import { client, type ApiHandler } from './api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';
import { applyObjectEvents } from '../../shared/sync/object-events';
import { StorageError } from '../../shared/errors';
import { reportTargetFailure, toExportTarget } from '../../shared/export/targets';
import { eventually, startReceiver, type Receiver } from './webhook-receiver';

let h: SyncHarness;
let rx: Receiver;

beforeAll(async () => {
  process.env.LABELSYNC_ALLOWED_ENDPOINTS = '127.0.0.1';
  process.env.LABELSYNC_WEBHOOK_RETRY_BASE_MS = '40';
  h = await startSyncHarness({ chunkSize: 2 });
  rx = await startReceiver();
}, 120_000);

afterAll(async () => {
  await rx?.close();
  await stopSyncHarness(h);
});

it('a sync sends TASKS_CREATED per chunk and STORAGE_SYNC_COMPLETED with counters, only to a webhook that lists it', async () => {
  const hooks = client(webhooksHandler as unknown as ApiHandler, h.token);
  const storages = client(storagesHandler as unknown as ApiHandler, h.token);
  const dir = join(h.root, 'events');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, `${i}.json`), JSON.stringify({ image: `http://x/${i}.png` }));
  const projectId = await newProject(h.orgId, ['image']);
  const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: false });
  // A Label Studio receiver (every action) and one that opted in to the labelsync action.
  const lsHook = (await hooks('POST', '/api/webhooks', { project: projectId, url: rx.url('/ls') })).json;
  const ours = (await hooks('POST', '/api/webhooks', { project: projectId, url: rx.url('/ours'), send_for_all_actions: false, actions: ['TASKS_CREATED', 'STORAGE_SYNC_COMPLETED'] })).json;

  const res = await storages('POST', `/api/storages/localfiles/${storage.id}/sync`);
  expect(res.status).toBe(200);
  await h.starter.idle();

  const parsed = () => rx.requests('/ours').map((r) => ({ ...r, json: JSON.parse(r.body) }));
  const done = await eventually(async () => parsed().find((r) => r.json.action === 'STORAGE_SYNC_COMPLETED'));
  const got = parsed();
  expect(verifySignature(done.headers['x-labelsync-signature'] as string, done.body, ours.secret)).toBe(true);
  expect(done.json).toMatchObject({
    action: 'STORAGE_SYNC_COMPLETED',
    storage_sync: { storage: { id: storage.id, type: 'localfiles', role: 'import' }, job_id: res.json.last_sync_job, status: 'completed', counters: { objects_listed: 5, tasks_created: 5, objects_failed: 0 }, errors: [] },
    project: { id: projectId },
  });
  const created = got.filter((r) => r.json.action === 'TASKS_CREATED');
  // Chunks of two objects: no body carries more than a chunk's new tasks.
  expect(created.length).toBeGreaterThanOrEqual(3);
  expect(Math.max(...created.map((r) => r.json.tasks.length))).toBeLessThanOrEqual(2);
  expect(created.flatMap((r) => r.json.tasks.map((t: { data: { image: string } }) => t.data.image)).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `http://x/${i}.png`));

  // Deliveries are recorded before the sync step returns: the Label Studio receiver's log is complete.
  const lsLog = (await hooks('GET', `/api/webhooks/${lsHook.id}/deliveries`)).json.results.map((d: { action: string }) => d.action);
  expect(lsLog).toEqual(created.map(() => 'TASKS_CREATED'));
  // The local event bus got the same events, with their detail-types.
  const lines = readFileSync(join(processApp().env.dataDir!, LOCAL_EVENTS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const mine = lines.find((l) => l['detail-type'] === 'labelsync.storage.sync.completed' && l.detail.storage_sync.job_id === res.json.last_sync_job);
  expect(mine).toMatchObject({ source: 'labelsync', detail: { action: 'STORAGE_SYNC_COMPLETED', organization: h.orgId } });
});

it('a sync whose sync_deletions removes tasks sends TASKS_DELETED with their ids', async () => {
  const hooks = client(webhooksHandler as unknown as ApiHandler, h.token);
  const storages = client(storagesHandler as unknown as ApiHandler, h.token);
  const dir = join(h.root, 'removals');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 4; i++) writeFileSync(join(dir, `${i}.json`), JSON.stringify({ image: `http://x/${i}.png` }));
  const projectId = await newProject(h.orgId, ['image']);
  const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: false }, { sync_deletions: 'remove' });
  await hooks('POST', '/api/webhooks', { project: projectId, url: rx.url('/removed'), send_for_all_actions: false, actions: ['TASKS_DELETED'] });
  expect((await storages('POST', `/api/storages/localfiles/${storage.id}/sync`)).status).toBe(200);
  await h.starter.idle();
  const byKey = new Map((await tasksOf(projectId)).map((t) => [t.source!.key, t.id]));
  rmSync(join(dir, '1.json'));
  rmSync(join(dir, '2.json'));
  expect((await storages('POST', `/api/storages/localfiles/${storage.id}/sync`)).status).toBe(200);
  await h.starter.idle();
  expect((await storageOf(storage.id)).status).toBe('completed');
  const ids = (got: { tasks: { id: number }[] }[]) => got.flatMap((b) => b.tasks.map((t) => t.id));
  const bodies = await eventually(async () => {
    const got = rx.requests('/removed').map((r) => JSON.parse(r.body));
    return ids(got).length >= 2 ? got : undefined;
  }, 10_000).catch((e) => {
    throw new Error(`${(e as Error).message}: ${rx.requests('/removed').map((r) => r.body).join(' | ')}`);
  });
  expect(bodies.every((b) => b.action === 'TASKS_DELETED' && b.project.id === projectId)).toBe(true);
  expect(ids(bodies).sort((a, b) => a - b)).toEqual([byKey.get('1.json'), byKey.get('2.json')].sort((a, b) => a! - b!));
});

it('event sync sends TASKS_CREATED for the tasks a batch creates and TASKS_DELETED for those it removes', async () => {
  const hooks = client(webhooksHandler as unknown as ApiHandler, h.token);
  const dir = join(h.root, 'evented');
  mkdirSync(dir, { recursive: true });
  const projectId = await newProject(h.orgId, ['image']);
  const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: true }, { event_sync: true, sync_deletions: 'remove' });
  await hooks('POST', '/api/webhooks', { project: projectId, url: rx.url('/evented'), send_for_all_actions: false, actions: ['TASKS_CREATED', 'TASKS_DELETED'] });
  for (const k of ['a.png', 'b.png']) writeFileSync(join(dir, k), 'x');
  const made = await applyObjectEvents(processApp().syncDeps(), storage.id, ['a.png', 'b.png'].map((key) => ({ key, kind: 'created' as const })));
  expect(made.created).toBe(2);
  const [createdReq] = await rx.waitFor('/evented', 1);
  const createdBody = JSON.parse(createdReq.body);
  expect(createdBody).toMatchObject({ action: 'TASKS_CREATED', project: { id: projectId } });
  expect(createdBody.tasks.map((t: { storage_filename: string }) => t.storage_filename).sort()).toEqual(['a.png', 'b.png']);
  const idOfB = createdBody.tasks.find((t: { storage_filename: string }) => t.storage_filename === 'b.png').id;
  rmSync(join(dir, 'b.png'));
  const gone = await applyObjectEvents(processApp().syncDeps(), storage.id, [{ key: 'b.png', kind: 'removed' }]);
  expect(gone.removed).toBe(1);
  const reqs = await rx.waitFor('/evented', 2);
  expect(JSON.parse(reqs[1].body)).toMatchObject({ action: 'TASKS_DELETED', tasks: [{ id: idOfB }], project: { id: projectId } });
  // A redelivered batch is applied once and notified once.
  await applyObjectEvents(processApp().syncDeps(), storage.id, [{ key: 'b.png', kind: 'removed' }]);
  await new Promise((r) => setTimeout(r, 300));
  expect(rx.requests('/evented')).toHaveLength(2);
});

it('an execution that ends FAILED sends STORAGE_SYNC_FAILED with the job and a secret-free error', async () => {
  const hooks = client(webhooksHandler as unknown as ApiHandler, h.token);
  const dir = join(h.root, 'failing');
  mkdirSync(dir, { recursive: true });
  const projectId = await newProject(h.orgId, ['image']);
  const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: false });
  const w = (await hooks('POST', '/api/webhooks', { project: projectId, url: rx.url('/failed'), actions: ['STORAGE_SYNC_FAILED'] })).json;
  const { db } = processApp();
  // The storage as a running job leaves it when its execution dies before Finalize.
  await db.doc.send(new UpdateCommand({ TableName: db.table, Key: keys.storage(storage.id), UpdateExpression: 'SET #s = :s, last_sync_job = :j', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': 'in_progress', ':j': 'job-dead' } }));
  const input = JSON.stringify({ storageId: storage.id, jobId: 'job-dead', role: 'import' });
  const r = await finalizeFailedExecution(processApp().syncDeps(), { executionArn: 'arn:aws:states:us-east-1:123456789012:execution:sync:x', name: `${storage.id}-job-dead`, status: 'TIMED_OUT', input });
  expect(r.marked).toBe(true);
  const [req] = await rx.waitFor('/failed', 1);
  expect(verifySignature(req.headers['x-labelsync-signature'] as string, req.body, w.secret)).toBe(true);
  const body = JSON.parse(req.body);
  expect(body).toMatchObject({ action: 'STORAGE_SYNC_FAILED', storage_sync: { storage: { id: storage.id, type: 'localfiles' }, job_id: 'job-dead', status: 'failed' }, project: { id: projectId } });
  expect(body.storage_sync.errors[0].reason).toContain('TIMED_OUT');
});

it('a target storage that starts failing sends EXPORT_FAILED once per failing spell', async () => {
  const hooks = client(webhooksHandler as unknown as ApiHandler, h.token);
  const dir = join(h.root, 'target');
  mkdirSync(dir, { recursive: true });
  const projectId = await newProject(h.orgId, ['image']);
  const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'export', path: dir });
  const w = (await hooks('POST', '/api/webhooks', { project: projectId, url: rx.url('/export'), actions: ['EXPORT_FAILED'] })).json;
  const app = processApp();
  const load = (s: Parameters<typeof app.storageConfig>[0]) => app.storageConfig(s);
  const denied = new StorageError('access_denied', 'write refused');
  await reportTargetFailure(app.db, await toExportTarget(storage, load), denied, app.webhooks.events);
  // Still failing: the next report is the same spell.
  await reportTargetFailure(app.db, await toExportTarget(await storageOf(storage.id), load), denied, app.webhooks.events);
  const [req] = await rx.waitFor('/export', 1);
  expect(JSON.parse(req.body)).toMatchObject({ action: 'EXPORT_FAILED', export: { storage: { id: storage.id, role: 'export' }, error: { code: 'access_denied' }, failing_since: expect.any(String) }, project: { id: projectId } });
  expect((await hooks('GET', `/api/webhooks/${w.id}/deliveries`)).json.results).toHaveLength(1);
});
