/**
 * `sync_deletions: "remove"` never loses labelling work: tasks whose object is gone but that have
 * annotations (cancelled ones too) or predictions are kept, flagged `object_exists=false` and
 * counted in `meta.tasks_flagged_annotated`; only `sync_deletions_remove_annotated: true` deletes
 * them. Real state machine on the local ASL runner, local files (ordered range diff) and Redis
 * (unordered mark-and-sweep), plus the conditional delete that makes the check race-safe.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { processApp } from '../../shared/process-app';
import { reserveIds } from '../../shared/db/counters';
import { createAnnotation, getAnnotation } from '../../shared/db/repo-annotations';
import { deleteTaskIfUnannotated, getTask } from '../../shared/db/repo-tasks';
import type { AnnotationItem, TaskItem } from '../../shared/db/items';
import type { StorageConfig } from '../../shared/storage/types';
import { client, type ApiHandler } from './api-harness';
import { emulators, newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 100 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
});

async function localStorage(files: Record<string, string>, extra: Record<string, unknown>) {
  const dir = join(h.root, `del-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
  const projectId = await newProject(h.orgId);
  const config: StorageConfig = { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: false };
  return { dir, projectId, storage: await newStorage(h.orgId, projectId, config, extra) };
}

async function sync(id: number, type = 'localfiles') {
  const res = await api('POST', `/api/storages/${type}/${id}/sync`);
  expect(res.status).toBe(200);
  await h.starter.idle();
  const s = await storageOf(id);
  expect(s.status).toBe('completed');
  return s;
}

async function annotate(task: TaskItem, over: Partial<AnnotationItem> = {}): Promise<AnnotationItem> {
  const db = processApp().db;
  const id = await reserveIds(db, 'annotation', 1);
  const now = new Date().toISOString();
  return createAnnotation(db, {
    kind: 'annotation', id, taskId: task.id, projectId: task.projectId, orgId: task.orgId, result: [{ v: 1 }], completed_by: 1,
    ground_truth: false, lead_time: 1, was_cancelled: false, version: 1, created_at: now, updated_at: now, ...over,
  });
}

const byImage = async (projectId: number) => new Map((await tasksOf(projectId)).map((t) => [String(t.data.image), t]));

const FILES = {
  'a.json': '{"image":"a"}',
  'b.json': '{"image":"b"}',
  'c.json': JSON.stringify({ data: { image: 'c' }, predictions: [{ result: [{ p: 1 }] }] }),
  'd.json': JSON.stringify([{ image: 'd0' }, { image: 'd1' }]),
  'e.json': '{"image":"e"}',
  'z.json': '{"image":"z"}', // stays
};

describe('sync_deletions "remove" keeps annotated tasks', () => {
  it('keeps and flags annotated, cancelled-only and prediction-only tasks, removes the rest, counts them, and relinks a returning object', async () => {
    const { dir, projectId, storage } = await localStorage(FILES, { sync_deletions: 'remove' });
    await sync(storage.id);
    const t = await byImage(projectId);
    const ann = await annotate(t.get('a')!);
    await annotate(t.get('e')!, { was_cancelled: true }); // a skipped task is work too
    await annotate(t.get('d0')!);
    for (const f of Object.keys(FILES)) if (f !== 'z.json') rmSync(join(dir, f));

    const after = await sync(storage.id);
    expect(after.meta).toMatchObject({ tasks_removed: 2, tasks_flagged_annotated: 4 });
    const left = await byImage(projectId);
    expect([...left.keys()].sort()).toEqual(['a', 'c', 'd0', 'e', 'z']); // b and d1 had nothing
    for (const k of ['a', 'c', 'd0', 'e']) expect(left.get(k)!.object_exists).toBe(false);
    expect(await getAnnotation(processApp().db, ann.id)).toBeDefined();

    // A re-sync finds them still annotated: still kept, not counted again.
    const again = await sync(storage.id);
    expect(again.meta).toMatchObject({ tasks_removed: 0, tasks_flagged_annotated: 0 });
    expect((await tasksOf(projectId)).length).toBe(5);

    // The object comes back: its kept row is un-flagged in place, its removed row is a new task.
    writeFileSync(join(dir, 'd.json'), JSON.stringify([{ image: 'd0' }, { image: 'd1' }]));
    await sync(storage.id);
    const back = await byImage(projectId);
    expect(back.get('d0')).toMatchObject({ id: t.get('d0')!.id, object_exists: true, total_annotations: 1 });
    expect(back.get('d1')!.id).toBeDefined();
    expect(back.get('d1')!.object_exists ?? true).toBe(true);
  });

  it('keeps an annotated row an object lost, and rewrites it in place (annotations kept) when the row returns', async () => {
    const { dir, projectId, storage } = await localStorage({ 'rows.json': JSON.stringify([{ image: 'r0' }, { image: 'r1' }, { image: 'r2' }]) }, { sync_deletions: 'remove' });
    await sync(storage.id);
    const r1 = (await byImage(projectId)).get('r1')!;
    await annotate(r1);
    writeFileSync(join(dir, 'rows.json'), JSON.stringify([{ image: 'r0' }]));
    const after = await sync(storage.id);
    expect(after.meta).toMatchObject({ tasks_removed: 1, tasks_flagged_annotated: 1 });
    expect([...(await byImage(projectId)).keys()].sort()).toEqual(['r0', 'r1']);

    writeFileSync(join(dir, 'rows.json'), JSON.stringify([{ image: 'r0' }, { image: 'r1-new' }, { image: 'r2' }]));
    await sync(storage.id);
    const back = await byImage(projectId);
    expect([...back.keys()].sort()).toEqual(['r0', 'r1-new', 'r2']);
    expect(back.get('r1-new')).toMatchObject({ id: r1.id, total_annotations: 1, is_labeled: true, object_exists: true });
  });

  it('with sync_deletions_remove_annotated: true, removes annotated tasks with their annotations', async () => {
    const { dir, projectId, storage } = await localStorage({ 'a.json': '{"image":"a"}', 'b.json': '{"image":"b"}' }, { sync_deletions: 'remove', sync_deletions_remove_annotated: true });
    await sync(storage.id);
    const ann = await annotate((await byImage(projectId)).get('a')!);
    rmSync(join(dir, 'a.json'));
    rmSync(join(dir, 'b.json'));
    const after = await sync(storage.id);
    expect(after.meta).toMatchObject({ tasks_removed: 2, tasks_flagged_annotated: 0 });
    expect(await tasksOf(projectId)).toEqual([]);
    expect(await getAnnotation(processApp().db, ann.id)).toBeUndefined();
  });

  it('redis (mark-and-sweep): keeps the annotated task of a vanished key, removes the other', async () => {
    const r = emulators().redis;
    const path = `del-safety-${Date.now().toString(36)}:`;
    const config: StorageConfig = { type: 'redis', role: 'import', host: r.host, port: r.port, db: 12, path };
    const c = new Redis({ host: r.host, port: r.port, db: 12 });
    try {
      await c.mset(`${path}1`, '{"image":"x1"}', `${path}2`, '{"image":"x2"}', `${path}3`, '{"image":"x3"}');
      const projectId = await newProject(h.orgId);
      const storage = await newStorage(h.orgId, projectId, config, { sync_deletions: 'remove' });
      await sync(storage.id, 'redis');
      await annotate((await byImage(projectId)).get('x1')!);
      await c.del(`${path}1`, `${path}2`);
      const after = await sync(storage.id, 'redis');
      expect(after.meta).toMatchObject({ tasks_removed: 1, tasks_flagged_annotated: 1 });
      const left = await byImage(projectId);
      expect([...left.keys()].sort()).toEqual(['x1', 'x3']);
      expect(left.get('x1')!.object_exists).toBe(false);
      // Swept again next time, still annotated: kept.
      await sync(storage.id, 'redis');
      expect([...(await byImage(projectId)).keys()].sort()).toEqual(['x1', 'x3']);
    } finally {
      c.disconnect();
    }
  });

  it('refuses a non-boolean sync_deletions_remove_annotated with a 400 naming the field, and defaults it to false', async () => {
    const { dir, projectId } = await localStorage({}, {});
    const bad = await api('POST', '/api/storages/localfiles', { project: projectId, path: dir, sync_deletions: 'remove', sync_deletions_remove_annotated: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.json.validation_errors).toHaveProperty('sync_deletions_remove_annotated');
    const ok = await api('POST', '/api/storages/localfiles', { project: projectId, path: dir, sync_deletions: 'remove' });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json).toMatchObject({ sync_deletions: 'remove', sync_deletions_remove_annotated: false });
  });

  it('an annotation saved after the task was read stops its removal (the delete is conditional on the counters)', async () => {
    const { projectId, storage } = await localStorage({ 'a.json': '{"image":"a"}' }, { sync_deletions: 'remove' });
    await sync(storage.id);
    const db = processApp().db;
    const stale = (await byImage(projectId)).get('a')!; // what the deletion phase read
    const ann = await annotate(stale); // saved between that read and the delete
    expect(await deleteTaskIfUnannotated(db, stale)).toBe(false);
    expect(await getTask(db, stale.id)).toMatchObject({ total_annotations: 1 });
    expect(await getAnnotation(db, ann.id)).toBeDefined();
  });
});
