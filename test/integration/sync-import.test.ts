/**
 * Import sync end to end: POST /api/storages/{type}/{id}/sync through the storages handler, the
 * real synthesized state machine on the local ASL runner with the real sync handlers, against the
 * emulators of the global setup. Chunks of 100 objects, so a few hundred objects make many chunks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { getContext } from '../../shared/context';
import { getAnnotation } from '../../shared/db/repo-annotations';
import { getTask } from '../../shared/db/repo-tasks';
import type { StorageConfig } from '../../shared/storage/types';
import { client, type ApiHandler } from './api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 100 });
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
