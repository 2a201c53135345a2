/**
 * Event sync core (`applyObjectEvents`): object notifications → tasks through the chunk step's
 * per-key path, on local files (ordered: link pages + overlays) and Redis (unordered: link items),
 * with real full syncs on the local state machine in between. Covers duplicates, replays,
 * out-of-order events, coalescing, events during a full sync and the digest skip after events.
 */
import { mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { processApp } from '../../shared/process-app';
import { queryTombRange } from '../../shared/db/repo-links';
import { updateStorageStatus } from '../../shared/db/repo-storage-sync-state';
import { applyObjectEvents, drainPendingEvents, type ObjectEvent } from '../../shared/sync/object-events';
import type { StorageConfig } from '../../shared/storage/types';
import { client, type ApiHandler } from './api-harness';
import { emulators, newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 50 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
});

const deps = () => processApp().syncDeps();
const task = (n: number | string) => JSON.stringify({ data: { image: `img-${n}` } });
const created = (key: string, extra: Partial<ObjectEvent> = {}): ObjectEvent => ({ key, kind: 'created', ...extra });
const removed = (key: string, extra: Partial<ObjectEvent> = {}): ObjectEvent => ({ key, kind: 'removed', ...extra });

async function localStorage(files: Record<string, string>, extra: Record<string, unknown> = {}) {
  const dir = join(h.root, `ev-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(files)) {
    mkdirSync(join(dir, k, '..'), { recursive: true });
    writeFileSync(join(dir, k), v);
  }
  const projectId = await newProject(h.orgId);
  const { recursive_scan = true, use_blob_urls = false, ...rest } = extra;
  const config: StorageConfig = { type: 'localfiles', role: 'import', path: dir, recursive_scan: recursive_scan as boolean, use_blob_urls: use_blob_urls as boolean };
  const storage = await newStorage(h.orgId, projectId, config, { event_sync: true, sync_deletions: 'remove', ...rest });
  return { dir, projectId, id: storage.id };
}

async function fullSync(id: number, type = 'localfiles') {
  const res = await api('POST', `/api/storages/${type}/${id}/sync`);
  expect(res.status).toBe(200);
  await h.starter.idle();
  const s = await storageOf(id);
  expect(s.status).toBe('completed');
  return s;
}

const keysOf = async (projectId: number) => (await tasksOf(projectId)).map((t) => t.source?.key).sort();

describe('local files (ordered storage, overlays)', () => {
  it('a created event imports the object; a replay and a duplicate create nothing more', async () => {
    const s = await localStorage({ 'a.json': task('a') });
    writeFileSync(join(s.dir, 'b.json'), task('b'));
    const first = await applyObjectEvents(deps(), s.id, [created('a.json'), created('b.json')]);
    expect(first).toMatchObject({ received: 2, created: 2, failed: 0 });
    expect(first.taskIds).toHaveLength(2);
    const again = await applyObjectEvents(deps(), s.id, [created('b.json'), created('b.json'), created('a.json')]);
    expect(again).toMatchObject({ received: 3, coalesced: 1, created: 0, unchanged: 2 });
    expect(await keysOf(s.projectId)).toEqual(['a.json', 'b.json']);
    expect((await storageOf(s.id)).meta).toMatchObject({ events_applied: 2, events_received: 5 });
    // A full sync afterwards folds the overlays into its pages: no duplicate, no overlay left.
    await fullSync(s.id);
    expect(await keysOf(s.projectId)).toEqual(['a.json', 'b.json']);
    const left = [...(await queryTombRange(processApp().db, s.id, null, null)).values()].filter((l) => (l as { ov?: boolean }).ov);
    expect(left).toHaveLength(0);
  });

  it('a changed object is rewritten in place (same task id)', async () => {
    const s = await localStorage({ 'c.json': task(1) });
    await fullSync(s.id);
    const [before] = await tasksOf(s.projectId);
    writeFileSync(join(s.dir, 'c.json'), task(2));
    utimesSync(join(s.dir, 'c.json'), new Date(), new Date(Date.now() + 5000));
    const out = await applyObjectEvents(deps(), s.id, [created('c.json')]);
    expect(out).toMatchObject({ updated: 1, created: 0 });
    const [after] = await tasksOf(s.projectId);
    expect(after.id).toBe(before.id);
    expect(after.data).toEqual({ image: 'img-2' });
  });

  it('a removed event deletes the task (sync_deletions remove); a stale created after it does not resurrect it', async () => {
    const s = await localStorage({ 'd.json': task('d'), 'keep.json': task('k') });
    await fullSync(s.id);
    rmSync(join(s.dir, 'd.json'));
    const out = await applyObjectEvents(deps(), s.id, [removed('d.json', { sequencer: '0B' })]);
    expect(out).toMatchObject({ removed: 1 });
    // Older sequencer: skipped as stale. Without one: the object is absent, so nothing is created.
    expect(await applyObjectEvents(deps(), s.id, [created('d.json', { sequencer: '0A' })])).toMatchObject({ stale: 1, created: 0 });
    expect(await applyObjectEvents(deps(), s.id, [created('d.json')])).toMatchObject({ created: 0 });
    expect(await keysOf(s.projectId)).toEqual(['keep.json']);
    await fullSync(s.id);
    expect(await keysOf(s.projectId)).toEqual(['keep.json']);
  });

  it('a stale removed after a newer created does not delete; in one burst the newest event wins', async () => {
    const s = await localStorage({});
    writeFileSync(join(s.dir, 'e.json'), task('e'));
    const burst = await applyObjectEvents(deps(), s.id, [created('e.json', { sequencer: '10' }), removed('e.json', { sequencer: '0F' })]);
    expect(burst).toMatchObject({ coalesced: 1, created: 1 });
    expect(await applyObjectEvents(deps(), s.id, [removed('e.json', { sequencer: '0E' })])).toMatchObject({ stale: 1, removed: 0 });
    // A removed event for an object that still exists (its sequencer unknown) deletes nothing.
    expect(await applyObjectEvents(deps(), s.id, [removed('e.json')])).toMatchObject({ removed: 0 });
    expect(await keysOf(s.projectId)).toEqual(['e.json']);
  });

  it('sync_deletions flag flags a removed object and unflags it when it is back; keep ignores removals', async () => {
    const s = await localStorage({ 'f.json': task('f') }, { sync_deletions: 'keep' });
    await fullSync(s.id);
    rmSync(join(s.dir, 'f.json'));
    expect(await applyObjectEvents(deps(), s.id, [removed('f.json')])).toMatchObject({ removed: 0, flagged: 0 });
    expect(await keysOf(s.projectId)).toEqual(['f.json']);
    const g = await localStorage({ 'g.json': task('g') }, { sync_deletions: 'flag' });
    await fullSync(g.id);
    rmSync(join(g.dir, 'g.json'));
    expect(await applyObjectEvents(deps(), g.id, [removed('g.json')])).toMatchObject({ flagged: 1 });
    const [t] = await tasksOf(g.projectId);
    expect(t.object_exists).toBe(false);
    // Back again: unflagged, same task.
    writeFileSync(join(g.dir, 'g.json'), task('g'));
    expect(await applyObjectEvents(deps(), g.id, [created('g.json')])).toMatchObject({ created: 0, failed: 0 });
    const [back] = await tasksOf(g.projectId);
    expect(back.id).toBe(t.id);
    expect(back.object_exists).not.toBe(false);
  });

  it('keys outside regex_filter or recursive_scan, and folder placeholders, are skipped', async () => {
    const s = await localStorage({}, { regex_filter: '.*\\.json' });
    mkdirSync(join(s.dir, 'sub'), { recursive: true });
    writeFileSync(join(s.dir, 'x.txt'), task('x'));
    writeFileSync(join(s.dir, 'sub', 'y.json'), task('y'));
    writeFileSync(join(s.dir, 'z.json'), task('z'));
    const out = await applyObjectEvents(deps(), s.id, [created('x.txt'), created('sub/y.json'), created('z.json'), created('dir/')]);
    expect(out).toMatchObject({ skipped: 2, created: 2 });
    const flat = await localStorage({}, { recursive_scan: false });
    mkdirSync(join(flat.dir, 'sub'), { recursive: true });
    writeFileSync(join(flat.dir, 'sub', 'y.json'), task('y'));
    expect(await applyObjectEvents(deps(), flat.id, [created('sub/y.json')])).toMatchObject({ skipped: 1, created: 0 });
  });

  it('a storage without event_sync takes no events', async () => {
    const s = await localStorage({ 'a.json': task('a') }, { event_sync: false });
    expect(await applyObjectEvents(deps(), s.id, [created('a.json')])).toMatchObject({ skipped: 1, created: 0 });
  });

  it('blob mode: one task per object pointing at it', async () => {
    const s = await localStorage({}, { use_blob_urls: true });
    writeFileSync(join(s.dir, 'p.png'), 'x');
    expect(await applyObjectEvents(deps(), s.id, [created('p.png')])).toMatchObject({ created: 1 });
    const [t] = await tasksOf(s.projectId);
    expect(String(t.data.image)).toContain('p.png');
  });

  it('events during a full sync wait for it and never duplicate', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 120; i++) files[`n${String(i).padStart(3, '0')}.json`] = task(i);
    const s = await localStorage(files);
    // Status as a running job leaves it: events are deferred, then drained.
    await updateStorageStatus(processApp().db, s.id, { status: 'in_progress' });
    const deferred = await applyObjectEvents(deps(), s.id, [created('n000.json'), created('n119.json')]);
    expect(deferred).toMatchObject({ deferred: 2, created: 0 });
    await updateStorageStatus(processApp().db, s.id, { status: 'completed' });
    expect(await drainPendingEvents(deps(), s.id)).toMatchObject({ created: 2 });
    // A real job with events fired while it is queued/running: finalize applies them after it.
    writeFileSync(join(s.dir, 'n200.json'), task(200));
    const res = await api('POST', `/api/storages/localfiles/${s.id}/sync`);
    expect(res.status).toBe(200);
    const during = await applyObjectEvents(deps(), s.id, [created('n000.json'), created('n200.json'), created('n119.json')]);
    await h.starter.idle();
    expect((await storageOf(s.id)).status).toBe('completed');
    expect(during.created).toBe(0);
    const keys = await keysOf(s.projectId);
    expect(keys).toHaveLength(121);
    expect(new Set(keys).size).toBe(121);
  });

  it('a range changed by events is not skipped by the next sync\'s digest', async () => {
    const s = await localStorage({ 'q1.json': task(1), 'q2.json': task(2) });
    await fullSync(s.id);
    await fullSync(s.id); // digests recorded by a clean job, trusted by the next
    const st = statSync(join(s.dir, 'q2.json'));
    rmSync(join(s.dir, 'q2.json'));
    expect(await applyObjectEvents(deps(), s.id, [removed('q2.json')])).toMatchObject({ removed: 1 });
    // The object comes back byte-identical with its old mtime, and its event is lost: the listing
    // equals the digested one, but the overlay says the range changed.
    writeFileSync(join(s.dir, 'q2.json'), task(2));
    utimesSync(join(s.dir, 'q2.json'), st.atime, st.mtime);
    await fullSync(s.id);
    expect(await keysOf(s.projectId)).toEqual(['q1.json', 'q2.json']);
  });

  it('a burst is coalesced into chunk-sized batches', async () => {
    const s = await localStorage({});
    const events: ObjectEvent[] = [];
    for (let i = 0; i < 130; i++) {
      const k = `b${String(i).padStart(3, '0')}.json`;
      writeFileSync(join(s.dir, k), task(i));
      events.push(created(k), created(k, { eventTime: new Date(Date.now() + 1).toISOString() }));
    }
    const out = await applyObjectEvents(deps(), s.id, events);
    expect(out).toMatchObject({ received: 260, coalesced: 130, created: 130, failed: 0 });
    expect(new Set(out.taskIds).size).toBe(130);
    await fullSync(s.id);
    expect(await keysOf(s.projectId)).toHaveLength(130);
  });
});

describe('redis (unordered storage, link items)', () => {
  it('created, duplicate and removed events; a full sync afterwards changes nothing', async () => {
    const { host, port } = emulators().redis;
    const path = `ev${Date.now()}:`;
    const r = new Redis({ host, port, db: 1, lazyConnect: true });
    await r.connect();
    try {
      const projectId = await newProject(h.orgId);
      const config: StorageConfig = { type: 'redis', role: 'import', host, port, db: 1, path, use_blob_urls: false };
      const st = await newStorage(h.orgId, projectId, config, { event_sync: true, sync_deletions: 'remove' });
      await r.set(`${path}1`, task(1));
      await r.set(`${path}2`, task(2));
      expect(await applyObjectEvents(deps(), st.id, [created(`${path}1`), created(`${path}2`), created('other:1')])).toMatchObject({ created: 2, skipped: 1 });
      expect(await applyObjectEvents(deps(), st.id, [created(`${path}1`)])).toMatchObject({ created: 0, unchanged: 1 });
      await r.del(`${path}2`);
      expect(await applyObjectEvents(deps(), st.id, [removed(`${path}2`)])).toMatchObject({ removed: 1 });
      const s = await fullSync(st.id, 'redis');
      expect(s.meta).toMatchObject({ tasks_created: 0 });
      expect(await keysOf(projectId)).toEqual([`${path}1`]);
    } finally {
      r.disconnect();
    }
  });
});
