/**
 * Import sync end to end: POST /api/storages/{type}/{id}/sync through the storages handler, the
 * real synthesized state machine on the local ASL runner with the real sync handlers, against the
 * emulators of the global setup. Chunks of 100 objects, so a few hundred objects make many chunks.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { processApp } from '../../shared/process-app';
import { getAnnotation } from '../../shared/db/repo-annotations';
import { getTask } from '../../shared/db/repo-tasks';
import type { StorageConfig } from '../../shared/storage/types';
import { client, useTestEnvironment, type ApiHandler } from './api-harness';
import { customRunner, newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 100, maxTaskFileBytes: 100_000 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
});

/** A local-files source storage over a fresh directory under the document root. */
async function localStorage(files: Record<string, string>, opts: { blob?: boolean; dataKeys?: string[]; extra?: Record<string, unknown> } = {}) {
  const dir = join(h.root, `ds-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(files)) {
    mkdirSync(join(dir, k, '..'), { recursive: true });
    writeFileSync(join(dir, k), v);
  }
  const projectId = await newProject(h.orgId, opts.dataKeys ?? ['image']);
  const config: StorageConfig = { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: !!opts.blob };
  const storage = await newStorage(h.orgId, projectId, config, opts.extra ?? {});
  return { dir, projectId, storage, config };
}

async function sync(id: number, type = 'localfiles') {
  const res = await api('POST', `/api/storages/${type}/${id}/sync`);
  expect(res.status).toBe(200);
  await h.starter.idle();
  return { response: res.json, storage: await storageOf(id) };
}

describe('import sync (local files)', () => {
  it('turns JSON objects, arrays and JSONL lines into tasks, one per element, across many chunks', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 250; i++) files[`obj/${String(i).padStart(4, '0')}.json`] = JSON.stringify({ image: `http://x/${i}.png`, n: i });
    files['arr/list.json'] = JSON.stringify([{ image: 'a' }, { image: 'b' }, { image: 'c' }]);
    files['lines/rows.jsonl'] = '{"image":"l0"}\n\n{"image":"l1"}\n';
    const { storage, projectId } = await localStorage(files);
    const { response, storage: after } = await sync(storage.id);
    expect(response.status).toBe('queued');
    expect(response.last_sync_job).toEqual(expect.any(String));
    expect({ status: after.status, traceback: after.traceback }).toEqual({ status: 'completed', traceback: null });
    expect(after.last_sync_count).toBe(255);
    expect(after.meta).toMatchObject({ objects_listed: 252, tasks_created: 255, objects_failed: 0, attempts: 1 });
    const tasks = await tasksOf(projectId);
    expect(tasks).toHaveLength(255);
    const arr = tasks.filter((t) => t.source?.key === 'arr/list.json').sort((a, b) => a.source!.row_index! - b.source!.row_index!);
    expect(arr.map((t) => [t.data.image, t.source!.row_index])).toEqual([['a', 0], ['b', 1], ['c', 2]]);
    const lines = tasks.filter((t) => t.source?.key === 'lines/rows.jsonl').map((t) => [t.data.image, t.source!.row_index]);
    expect(lines.sort()).toEqual([['l0', 0], ['l1', 1]]);
    const one = tasks.find((t) => t.source?.key === 'obj/0007.json')!;
    expect(one.data).toEqual({ image: 'http://x/7.png', n: 7 });
    expect(one.source!.row_index).toBeNull();
  });
});

describe('import sync: scale of a test', () => {
  it('syncs 2,600 objects over three listing pages and 26 chunks, each task once', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 2600; i++) files[`p${i % 13}/q${String(i).padStart(5, '0')}.json`] = `{"image":"big-${i}"}`;
    const { storage, projectId } = await localStorage(files);
    const { storage: after } = await sync(storage.id);
    expect(after.status).toBe('completed');
    expect(after.meta).toMatchObject({ objects_listed: 2600, objects_processed: 2600, tasks_created: 2600 });
    const tasks = await tasksOf(projectId);
    expect(tasks).toHaveLength(2600);
    expect(new Set(tasks.map((t) => t.data.image)).size).toBe(2600);
  });
});

describe('import sync: modes and task shapes', () => {
  it('blob mode makes one task per object pointing at its URI under the project data key, without reading it', async () => {
    const { storage, projectId, dir } = await localStorage({ 'img/a.png': '\x89PNG binary', 'img/b c.jpg': 'not json either' }, { blob: true, dataKeys: ['image_url'] });
    const { storage: after } = await sync(storage.id);
    expect(after.status).toBe('completed');
    const tasks = await tasksOf(projectId);
    const rel = dir.slice(h.root.length + 1);
    expect(tasks.map((t) => t.data).sort((a, b) => String(a.image_url).localeCompare(String(b.image_url)))).toEqual([
      { image_url: `/data/local-files/?d=${rel}/img/a.png` },
      { image_url: `/data/local-files/?d=${rel}/img/b%20c.jpg` },
    ]);
  });

  it('blob mode uses $undefined$ when the label config has no data key', async () => {
    const { storage, projectId } = await localStorage({ 'x.bin': 'x' }, { blob: true, dataKeys: [] });
    await sync(storage.id);
    expect(Object.keys((await tasksOf(projectId))[0].data)).toEqual(['$undefined$']);
  });

  it('creates annotations and predictions of wrapped tasks with their counters', async () => {
    const wrapped = {
      data: { image: 'w.png' },
      annotations: [{ id: 77, result: [{ type: 'choices', value: { choices: ['a'] } }], lead_time: 1.5 }, { result: [], was_cancelled: true }],
      predictions: [{ result: [], score: 0.5 }],
      meta: { ignored: true },
    };
    const { storage, projectId } = await localStorage({ 'w.json': JSON.stringify(wrapped), 'mixed.json': JSON.stringify([{ image: 'bare' }, { data: { image: 'wrapped' } }]) });
    const { storage: after } = await sync(storage.id);
    expect(after.status).toBe('completed');
    expect(after.meta).toMatchObject({ tasks_created: 3, annotations_created: 2 });
    const tasks = await tasksOf(projectId);
    const w = tasks.find((t) => t.source?.key === 'w.json')!;
    expect(w.data).toEqual({ image: 'w.png' });
    expect(w).toMatchObject({ total_annotations: 1, cancelled_annotations: 1, is_labeled: true, total_predictions: 1, predictions: [{ result: [], score: 0.5 }] });
    const anns = await Promise.all(
      (await (await import('../../shared/db/repo-annotations')).listTaskAnnotations(processApp().db, w.id)).map((a) => getAnnotation(processApp().db, a.id)),
    );
    expect(anns.map((a) => [a!.import_id, a!.was_cancelled, a!.lead_time]).sort()).toEqual([[null, true, null], [77, false, 1.5]]);
    expect(tasks.filter((t) => t.source?.key === 'mixed.json').map((t) => t.data.image).sort()).toEqual(['bare', 'wrapped']);
  });

  it('a bad file or line fails alone: the others become tasks and the sync ends completed_with_errors', async () => {
    const { storage, projectId } = await localStorage({
      'good.json': '{"image":"ok"}',
      'broken.json': '{"image": ',
      'binary.json': 'GIF89a....',
      'lines.jsonl': '{"image":"l0"}\n{oops}\n{"image":"l2"}\n',
      'anno.json': '{"annotations": [], "image": "x"}',
      'big.json': JSON.stringify({ image: 'x'.repeat(120_000) }),
    });
    const { storage: after } = await sync(storage.id);
    expect(after.status).toBe('completed_with_errors');
    const failures = after.meta.failures as { key: string; reason: string }[];
    expect(failures.map((f) => f.key).sort()).toEqual(['anno.json', 'big.json', 'binary.json', 'broken.json', 'lines.jsonl']);
    expect(failures.find((f) => f.key === 'binary.json')!.reason).toMatch(/Can't import JSON-formatted tasks from binary.json/);
    expect(failures.find((f) => f.key === 'lines.jsonl')!.reason).toMatch(/row 1/);
    expect(failures.find((f) => f.key === 'anno.json')!.reason).toMatch(/must put "data" field/);
    expect(failures.find((f) => f.key === 'big.json')!.reason).toMatch(/larger|too large|exceeds|over/i);
    expect(after.meta.objects_failed).toBe(5);
    expect(after.traceback).toContain('broken.json: ');
    expect(after.last_sync_count).toBe(3);
    const tasks = await tasksOf(projectId);
    expect(tasks.map((t) => t.data.image).sort()).toEqual(['l0', 'l2', 'ok']);

    // The failures are not forgotten by the next sync of the unchanged storage: the failed objects
    // are read again and reported again, and no task is duplicated.
    const { storage: again } = await sync(storage.id);
    expect(again.status).toBe('completed_with_errors');
    expect((again.meta.failures as { key: string }[]).map((f) => f.key).sort()).toEqual(['anno.json', 'big.json', 'binary.json', 'broken.json', 'lines.jsonl']);
    expect(again.meta).toMatchObject({ objects_failed: 5, tasks_created: 0 });
    expect((await tasksOf(projectId)).map((t) => t.data.image).sort()).toEqual(['l0', 'l2', 'ok']);
  });
});

describe('import sync: incremental, idempotent, deletions', () => {
  it('re-sync of an unchanged storage creates nothing; a changed object updates its tasks in place; a new object is added', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 120; i++) files[`f${String(i).padStart(3, '0')}.json`] = JSON.stringify({ image: `v1-${i}` });
    const { storage, projectId, dir } = await localStorage(files);
    await sync(storage.id);
    const first = await tasksOf(projectId);
    expect(first).toHaveLength(120);

    const { storage: again } = await sync(storage.id);
    expect(again.status).toBe('completed');
    expect(again.meta).toMatchObject({ tasks_created: 0, tasks_updated: 0, objects_unchanged: 120, attempts: 2 });
    expect(again.last_sync_count).toBe(0);
    expect(await tasksOf(projectId)).toHaveLength(120);

    const target = first.find((t) => t.source?.key === 'f005.json')!;
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(dir, 'f005.json'), JSON.stringify({ image: 'v2-5', extra: true }));
    writeFileSync(join(dir, 'new.json'), JSON.stringify({ image: 'new' }));
    const { storage: third } = await sync(storage.id);
    expect(third.meta).toMatchObject({ tasks_created: 1, tasks_updated: 1, objects_unchanged: 119 });
    const updated = await getTask(processApp().db, target.id);
    expect(updated!.data).toEqual({ image: 'v2-5', extra: true });
    expect(await tasksOf(projectId)).toHaveLength(121);
  });

  it('link pages: an unchanged re-sync adds no run, a partial one adds a run, a full rewrite compacts to one run', async () => {
    const { getRuns, loadPagedLinks } = await import('../../shared/db/repo-link-pages');
    const db = processApp().db;
    const files: Record<string, string> = {};
    for (let i = 0; i < 400; i++) files[`p${String(i).padStart(3, '0')}.json`] = JSON.stringify({ image: `p${i}` });
    const { storage, projectId, dir } = await localStorage(files);
    const linkedIds = async () => {
      const { links } = await loadPagedLinks(db, storage.id, await getRuns(db, storage.id), null, null);
      return [...links.values()].map((l) => l.idRanges[0][0]).sort((a, b) => a - b);
    };
    const taskIds = async () => (await tasksOf(projectId)).map((t) => t.id).sort((a, b) => a - b);

    await sync(storage.id);
    expect(await getRuns(db, storage.id)).toHaveLength(1);
    expect(await linkedIds()).toEqual(await taskIds());

    const { storage: unchanged } = await sync(storage.id);
    expect(unchanged.meta).toMatchObject({ tasks_created: 0, objects_unchanged: 400 });
    expect(await getRuns(db, storage.id)).toHaveLength(1);

    // One changed object: its chunk is rewritten in a new run, the others stay in the first one.
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(dir, 'p123.json'), JSON.stringify({ image: 'p123-v2' }));
    const { storage: partial } = await sync(storage.id);
    expect(partial.meta).toMatchObject({ tasks_created: 0, tasks_updated: 1 });
    expect(await getRuns(db, storage.id)).toHaveLength(2);
    expect(await linkedIds()).toEqual(await taskIds());

    // Every object touched: every chunk is written, so finalize drops the older runs.
    await new Promise((r) => setTimeout(r, 20));
    const later = new Date(Date.now() + 5_000);
    for (const name of Object.keys(files)) utimesSync(join(dir, name), later, later);
    const { storage: full } = await sync(storage.id);
    expect(full.meta).toMatchObject({ tasks_created: 0, objects_unchanged: 400, chunks_unchanged: 0 });
    expect(await getRuns(db, storage.id)).toHaveLength(1);
    expect(await taskIds()).toHaveLength(400);
    expect(await linkedIds()).toEqual(await taskIds());
  });

  it('a deleted task stays deleted across re-syncs, even when its object changes', async () => {
    const { storage, projectId, dir } = await localStorage({ 'rows.json': JSON.stringify([{ image: 'r0' }, { image: 'r1' }]) });
    await sync(storage.id);
    const tasks = await tasksOf(projectId);
    const victim = tasks.find((t) => t.data.image === 'r1')!;
    const { handler: projectsHandler } = await import('../../functions/api/projects');
    const del = await client(projectsHandler as unknown as ApiHandler, h.token)('DELETE', `/api/tasks/${victim.id}`);
    expect(del.status).toBe(204);
    await sync(storage.id);
    expect((await tasksOf(projectId)).map((t) => t.data.image)).toEqual(['r0']);
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(dir, 'rows.json'), JSON.stringify([{ image: 'r0b' }, { image: 'r1b' }, { image: 'r2' }]));
    const { storage: after } = await sync(storage.id);
    expect(after.meta).toMatchObject({ tasks_created: 1, tasks_updated: 1 });
    expect((await tasksOf(projectId)).map((t) => t.data.image).sort()).toEqual(['r0b', 'r2']);
  });

  it('sync_deletions "flag" marks tasks of vanished objects object_exists=false; "remove" deletes them; "keep" leaves them', async () => {
    const files = { 'a.json': '{"image":"a"}', 'b.json': '{"image":"b"}', 'c.json': '{"image":"c"}' };
    const runs: Record<string, { projectId: number; dir: string; id: number }> = {};
    for (const mode of ['keep', 'flag', 'remove']) {
      const { storage, projectId, dir } = await localStorage(files, { extra: { sync_deletions: mode } });
      runs[mode] = { projectId, dir, id: storage.id };
      await sync(storage.id);
      (await import('node:fs')).rmSync(join(dir, 'b.json'));
      const { storage: after } = await sync(storage.id);
      expect(after.status).toBe('completed');
    }
    const images = async (mode: string) => (await tasksOf(runs[mode].projectId)).map((t) => [t.data.image, t.object_exists ?? true]).sort();
    expect(await images('keep')).toEqual([['a', true], ['b', true], ['c', true]]);
    expect(await images('flag')).toEqual([['a', true], ['b', false], ['c', true]]);
    expect(await images('remove')).toEqual([['a', true], ['c', true]]);
    expect((await storageOf(runs.remove.id)).meta).toMatchObject({ tasks_removed: 1 });
    expect((await storageOf(runs.flag.id)).meta).toMatchObject({ tasks_flagged: 1 });
    // The object coming back un-flags its task.
    writeFileSync(join(runs.flag.dir, 'b.json'), '{"image":"b"}');
    await sync(runs.flag.id);
    expect(await images('flag')).toEqual([['a', true], ['b', true], ['c', true]]);
  });

  it('two concurrent sync requests start one execution and create each task once', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 150; i++) files[`c${i}.json`] = JSON.stringify({ image: `c${i}` });
    const { storage, projectId } = await localStorage(files);
    const [a, b] = await Promise.all([api('POST', `/api/storages/localfiles/${storage.id}/sync`), api('POST', `/api/storages/localfiles/${storage.id}/sync/`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.json.last_sync_job).toBe(b.json.last_sync_job);
    expect(['queued', 'in_progress']).toContain(b.json.status);
    await h.starter.idle();
    const after = await storageOf(storage.id);
    expect(after.meta).toMatchObject({ attempts: 1, tasks_created: 150 });
    const tasks = await tasksOf(projectId);
    expect(new Set(tasks.map((t) => t.source!.key)).size).toBe(150);
    expect(tasks).toHaveLength(150);
  });

  it('a sync job that stopped responding does not block the storage: a live job is returned, a dead one is replaced', async () => {
    const { storage, projectId } = await localStorage({ 'd1.json': '{"image":"d1"}', 'd2.json': '{"image":"d2"}' });
    const { updateStorageStatus, pyTime } = await import('../../shared/db/repo-storage-sync-state');
    const db = processApp().db;
    // A job that pinged a minute ago is alive: the request answers with it and starts nothing.
    const recent = pyTime(new Date(Date.now() - 60_000));
    await updateStorageStatus(db, storage.id, { status: 'in_progress', last_sync_job: 'alive-job', meta: { time_queued: recent, time_last_ping: recent } });
    const live = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
    expect(live.json).toMatchObject({ status: 'in_progress', last_sync_job: 'alive-job' });
    // Silent for an hour (its execution was aborted or its process killed): a new job takes over.
    const old = pyTime(new Date(Date.now() - 3_600_000));
    await updateStorageStatus(db, storage.id, { status: 'in_progress', last_sync_job: 'dead-job', meta: { time_queued: old, time_last_ping: old } });
    const res = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
    expect(res.json.status).toBe('queued');
    expect(res.json.last_sync_job).not.toBe('dead-job');
    await h.starter.idle();
    expect((await storageOf(storage.id)).status).toBe('completed');
    expect((await tasksOf(projectId)).map((t) => t.data.image).sort()).toEqual(['d1', 'd2']);
  });

  it('a chunk that crashes after writing its tasks and is retried creates no duplicate and counts once', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`r${String(i).padStart(3, '0')}.json`] = JSON.stringify([{ image: `r${i}-0` }, { image: `r${i}-1` }]);
    const { storage, projectId } = await localStorage(files);
    const { addJobCounters } = await import('../../shared/db/repo-jobs');
    const { getChunk } = await import('../../shared/db/repo-chunks');
    const { syncKeys } = await import('../../shared/db/sync-keys');
    const { getRuns, loadPagedLinks } = await import('../../shared/db/repo-link-pages');
    const { batchWrite } = await import('../../shared/db/repo-common');
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const { chunkStep } = await import('../../shared/sync/chunk-step');
    let crashed = 0;
    const runner = await customRunner({
      syncChunk: (real) => async (event: any, ctx) => {
        if (event.chunk !== 1 || crashed) return real(event, ctx);
        crashed++;
        // Do the whole chunk, then undo what happens after the task writes: the links, the done
        // flag and the counters — the state a Lambda dying between tasks and links leaves.
        const res = await chunkStep(processApp().syncDeps(), event);
        const db = processApp().db;
        const chunk = await getChunk(db, event.jobId, event.chunk);
        // Local files list in key order: the chunk's links are the pages of its run over its range.
        const { own } = await loadPagedLinks(db, event.storageId, await getRuns(db, event.storageId), chunk!.from, chunk!.to, chunk!.run);
        expect(own.length).toBeGreaterThan(0);
        await batchWrite(db, own.map((p) => ({ DeleteRequest: { Key: { pk: p.pk, sk: p.sk } } })));
        await db.doc.send(new UpdateCommand({ TableName: db.table, Key: syncKeys.chunk(event.jobId, event.chunk), UpdateExpression: 'SET done = :f', ExpressionAttributeValues: { ':f': false } }));
        await addJobCounters(db, event.jobId, Object.fromEntries(Object.entries(res.counters ?? {}).map(([k, v]) => [k, -(v as number)])));
        throw Object.assign(new Error('simulated crash'), { name: 'Lambda.ServiceException' });
      },
    });
    try {
      const res = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      expect(res.status).toBe(200);
      await runner.starter.idle();
    } finally {
      runner.restore(h);
    }
    expect(crashed).toBe(1);
    const after = await storageOf(storage.id);
    expect({ status: after.status, created: after.last_sync_count }).toEqual({ status: 'completed', created: 600 });
    const tasks = await tasksOf(projectId);
    expect(tasks).toHaveLength(600);
    expect(new Set(tasks.map((t) => `${t.source!.key}#${t.source!.row_index}`)).size).toBe(600);
  });
});

describe('import sync: listing steps', () => {
  it('the first listing step hands chunks over early; on an unchanged re-sync digest-skipped chunks do not end it', async () => {
    const reconfigure = (concurrency: string | undefined) => {
      if (concurrency === undefined) delete process.env.LABELSYNC_SYNC_CONCURRENCY;
      else process.env.LABELSYNC_SYNC_CONCURRENCY = concurrency;
      useTestEnvironment();
    };
    const before = process.env.LABELSYNC_SYNC_CONCURRENCY;
    // Map concurrency 1: the first step ends once it has 4 chunks (4× the concurrency) of ~100 objects.
    reconfigure('1');
    const files: Record<string, string> = {};
    for (let i = 0; i < 1200; i++) files[`l${String(i).padStart(4, '0')}.json`] = JSON.stringify({ image: `l${i}` });
    const { storage } = await localStorage(files);
    const steps: { chunks: number; done: boolean }[] = [];
    const runner = await customRunner({
      syncList: (real) => async (event: any, ctx) => {
        const out = (await real(event, ctx)) as { chunks: unknown[]; done: boolean };
        steps.push({ chunks: out.chunks.length, done: out.done });
        return out;
      },
    });
    try {
      await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      await runner.starter.idle();
      const first = await storageOf(storage.id);
      expect(first.status).toBe('completed');
      expect(first.meta.tasks_created).toBe(1200);
      // Writing starts after the listing page that completes 4 chunks (1,000 keys), while the
      // listing goes on.
      const chunks = Number(first.meta.chunks);
      expect(steps[0].done).toBe(false);
      expect(steps[0].chunks).toBeGreaterThanOrEqual(4);
      expect(steps[0].chunks).toBeLessThan(chunks);
      expect(steps.reduce((a, s) => a + s.chunks, 0)).toBe(chunks);

      steps.length = 0;
      await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      await runner.starter.idle();
      const again = await storageOf(storage.id);
      // Chunk cuts depend on the keys only: the re-sync, listed in one step, meets the very chunks
      // the first sync cut across two steps, and skips every one of them by digest.
      expect(again.meta).toMatchObject({ tasks_created: 0, objects_unchanged: 1200, chunks: chunks, chunks_unchanged: chunks });
      // Nothing to hand over: one step lists everything, with no chunk for the chunk Lambdas.
      expect(steps).toEqual([{ chunks: 0, done: true }]);
    } finally {
      runner.restore(h);
      reconfigure(before);
    }
  });
});

describe('import sync: progress and cancel', () => {
  it('GET on the storage shows live progress in meta while the sync runs', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 400; i++) files[`g${String(i).padStart(3, '0')}.json`] = JSON.stringify({ image: `g${i}` });
    const { storage } = await localStorage(files);
    const seen: { status: string; meta: Record<string, unknown> }[] = [];
    const runner = await customRunner({
      syncChunk: (real) => async (event: any, ctx) => {
        if (event.chunk === 3) {
          const res = await api('GET', `/api/storages/localfiles/${event.storageId}`);
          seen.push({ status: res.json.status, meta: res.json.meta });
        }
        return real(event, ctx);
      },
    }, 1);
    try {
      await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      await runner.starter.idle();
    } finally {
      runner.restore(h);
    }
    expect(seen).toHaveLength(1);
    expect(seen[0].status).toBe('in_progress');
    expect(seen[0].meta).toMatchObject({ objects_listed: 400, time_last_ping: expect.any(String) });
    expect(seen[0].meta.objects_processed as number).toBeGreaterThan(0);
    expect((await storageOf(storage.id)).meta).toMatchObject({ objects_processed: 400, tasks_created: 400 });
  });

  it('deleting the storage mid-sync stops the job cleanly and drops its links', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 500; i++) files[`x${String(i).padStart(3, '0')}.json`] = JSON.stringify({ image: `x${i}` });
    const { storage, projectId } = await localStorage(files);
    let statuses: string[] = [];
    let jobId = '';
    const runner = await customRunner({
      syncChunk: (real) => async (event: any, ctx) => {
        jobId = event.jobId;
        if (event.chunk === 1) {
          const del = await api('DELETE', `/api/storages/localfiles/${event.storageId}`);
          expect(del.status).toBe(204);
        }
        const r = (await real(event, ctx)) as { status: string };
        statuses.push(r.status);
        return r;
      },
    }, 1);
    try {
      await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      await runner.starter.idle();
    } finally {
      runner.restore(h);
    }
    statuses = statuses.slice(1);
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(['stopped']));
    // Only chunk 0 (50–200 objects with content-defined cuts) was written before the delete.
    const written = (await tasksOf(projectId)).length;
    expect(written).toBeGreaterThanOrEqual(50);
    expect(written).toBeLessThanOrEqual(200);
    const { getRuns } = await import('../../shared/db/repo-link-pages');
    const { queryTombRange } = await import('../../shared/db/repo-links');
    const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    const db = processApp().db;
    expect(await getRuns(db, storage.id)).toEqual([]);
    expect((await queryTombRange(db, storage.id, null, null)).size).toBe(0);
    // No page of any run of the job is left (the runs were named after the job).
    expect(jobId).not.toBe('');
    for (const shard of [0, 1]) {
      const res = await db.doc.send(new QueryCommand({ TableName: db.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `LP#${storage.id}#${jobId}~1#${shard}` } }));
      expect(res.Items ?? []).toEqual([]);
    }
    expect((await api('GET', `/api/storages/localfiles/${storage.id}`)).status).toBe(404);
  });
});

describe('import sync: status and errors', () => {
  it('walks queued → in_progress → failed with a readable, secret-free traceback when a step fails', async () => {
    const { storage } = await localStorage({ 'a.json': '{"image":"a"}' });
    const secret = 'SUPER-SECRET-VALUE-123';
    let seenInProgress: string | undefined;
    const runner = await customRunner({
      syncList: () => async (event: any) => {
        seenInProgress = (await storageOf(event.storageId)).status;
        const { StorageError } = await import('../../shared/errors');
        // An upstream message that (wrongly) echoes a credential must not reach the storage.
        throw new StorageError('access_denied', `listing refused for key ${secret}`);
      },
    });
    // The storage holds the secret (as a redis password would be): finalize scrubs stored secret values.
    const app = processApp();
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const { keys } = await import('../../shared/db/keys');
    await app.db.doc.send(
      new UpdateCommand({
        TableName: app.db.table,
        Key: keys.storage(storage.id),
        UpdateExpression: 'SET secrets = :s',
        ExpressionAttributeValues: { ':s': await app.secretBox.encrypt(JSON.stringify({ password: secret })) },
      }),
    );
    try {
      const res = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      expect(res.json.status).toBe('queued');
      await runner.starter.idle();
    } finally {
      runner.restore(h);
    }
    expect(seenInProgress).toBe('in_progress');
    const after = await storageOf(storage.id);
    expect(after.status).toBe('failed');
    expect(after.traceback).toMatch(/^StorageError: listing refused for key \[REDACTED\]/);
    expect(after.traceback).not.toContain(secret);
    expect(after.last_sync).toBeNull();
    expect(after.meta).toHaveProperty('time_failure');
    // The next request queues again (failed is final) and resets the traceback.
    const again = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
    expect(again.json).toMatchObject({ status: 'queued', traceback: null, last_sync_count: null });
    expect(again.json.meta).toMatchObject({ attempts: 2 });
    await h.starter.idle();
    expect((await storageOf(storage.id)).status).toBe('completed');
  });

  it('answers 400 {"message"} for a storage that is not synchronizable and 400 when the connection fails', async () => {
    const { storage } = await localStorage({});
    const app = processApp();
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const { keys } = await import('../../shared/db/keys');
    await app.db.doc.send(new UpdateCommand({ TableName: app.db.table, Key: keys.storage(storage.id), UpdateExpression: 'SET synchronizable = :f', ExpressionAttributeValues: { ':f': false } }));
    const res = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ message: `Storage ${storage.id} is not synchronizable` });

    const gone = await newStorage(h.orgId, storage.projectId, { type: 'localfiles', role: 'import', path: join(h.root, 'does-not-exist') });
    const bad = await api('POST', `/api/storages/localfiles/${gone.id}/sync`);
    expect(bad.status).toBe(400);
    expect((await storageOf(gone.id)).status).toBe('initialized');
    expect((await api('POST', `/api/storages/localfiles/999999999/sync`)).status).toBe(404);
  });
});
