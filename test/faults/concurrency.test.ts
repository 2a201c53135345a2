/**
 * Concurrent operations, through the storages API and the real state machine on the local runner:
 * sync requested twice (at once and again while running), the storage patched during a sync, the
 * storage deleted during a sync; and an annotation updated twice in a row (and concurrently),
 * whose stream records reach the export in order, in one batch and in reverse order.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { reserveIds } from '../../shared/db/counters';
import { createAnnotation, getAnnotation, updateAnnotation } from '../../shared/db/repo-annotations';
import { exportObjectKey } from '../../shared/export/key';
import { processAnnotationRecords } from '../../shared/export/process-records';
import { loadStorageConfig } from '../../shared/api/storages';
import type { StorageConfig } from '../../shared/storage/types';
import { client, type ApiHandler } from '../integration/api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from '../integration/sync-helpers';
import { createProjectWithTask, createTarget, exportEnv, readObject, StreamTap, targetConfigs } from '../integration/export-helpers';

const FINAL = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

describe('concurrent sync operations', () => {
  let h: SyncHarness;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    h = await startSyncHarness({ chunkSize: 20 });
    api = client(storagesHandler as unknown as ApiHandler, h.token);
  }, 120_000);

  afterAll(async () => {
    await stopSyncHarness(h);
  });

  async function localStorage(n: number, prefix: string) {
    const dir = join(h.root, `${prefix}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(dir, `${prefix}${String(i).padStart(3, '0')}.json`), JSON.stringify({ image: `${prefix}${i}` }));
    const projectId = await newProject(h.orgId);
    const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, use_blob_urls: false } as StorageConfig);
    return { projectId, storage, dir };
  }

  const uniqueKeys = (tasks: { source?: { key: string; row_index?: number | null } }[]) => new Set(tasks.map((t) => `${t.source!.key}#${t.source!.row_index}`)).size;

  it('sync requested twice at once and once more while running: one job, each object once', async () => {
    const { projectId, storage } = await localStorage(100, 'dup');
    const [a, b] = await Promise.all([api('POST', `/api/storages/localfiles/${storage.id}/sync`), api('POST', `/api/storages/localfiles/${storage.id}/sync`)]);
    const c = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect(new Set([a.json.last_sync_job, b.json.last_sync_job])).toHaveProperty('size', 1);
    await h.starter.idle();
    const after = await storageOf(storage.id);
    expect(after.status).toBe('completed');
    const tasks = await tasksOf(projectId);
    expect(tasks).toHaveLength(100);
    expect(uniqueKeys(tasks)).toBe(100);
  });

  it('a storage patched during its sync: the patch answers 200, the sync ends, nothing is duplicated, a re-sync is exact', async () => {
    const { projectId, storage } = await localStorage(150, 'pat');
    expect((await api('POST', `/api/storages/localfiles/${storage.id}/sync`)).status).toBe(200);
    const patched = await api('PATCH', `/api/storages/localfiles/${storage.id}`, { title: 'renamed mid-sync', regex_filter: 'pat.*\\.json' });
    expect(patched.status, patched.text).toBe(200);
    await h.starter.idle();
    const after = await storageOf(storage.id);
    expect(FINAL).toContain(after.status);
    expect(after.fields.title).toBe('renamed mid-sync');
    expect(after.fields.regex_filter).toBe('pat.*\\.json');
    let tasks = await tasksOf(projectId);
    expect(uniqueKeys(tasks)).toBe(tasks.length);
    expect((await api('POST', `/api/storages/localfiles/${storage.id}/sync`)).status).toBe(200);
    await h.starter.idle();
    expect((await storageOf(storage.id)).status).toBe('completed');
    tasks = await tasksOf(projectId);
    expect(tasks).toHaveLength(150);
    expect(uniqueKeys(tasks)).toBe(150);
  });

  it('a storage deleted during its sync: 204, then 404 everywhere; the job stops in a final state without duplicates', async () => {
    const { projectId, storage } = await localStorage(150, 'del');
    expect((await api('POST', `/api/storages/localfiles/${storage.id}/sync`)).status).toBe(200);
    expect((await api('DELETE', `/api/storages/localfiles/${storage.id}`)).status).toBe(204);
    expect((await api('GET', `/api/storages/localfiles/${storage.id}`)).status).toBe(404);
    expect((await api('POST', `/api/storages/localfiles/${storage.id}/sync`)).status).toBe(404);
    expect((await api('PATCH', `/api/storages/localfiles/${storage.id}`, { title: 'x' })).status).toBe(404);
    await h.starter.idle();
    // The tombstone is what the running job checks before each step; its secrets are gone.
    const after = await storageOf(storage.id);
    expect(after.cancelled).toBe(true);
    expect(after.secrets).toBeUndefined();
    const tasks = await tasksOf(projectId);
    expect(tasks.length).toBeLessThanOrEqual(150);
    expect(uniqueKeys(tasks)).toBe(tasks.length);
    const list = await api('GET', `/api/storages/localfiles?project=${projectId}`);
    expect(list.json).toEqual([]);
  });
});

describe('an annotation updated twice in a row', () => {
  it('the export target ends with the last version, whether records arrive in one batch, in order or reversed', async () => {
    const env = exportEnv();
    const tap = new StreamTap();
    try {
      const { project, taskIds } = await createProjectWithTask(env);
      const configs = await targetConfigs(env, `conc-${project.id}`);
      const target = await createTarget(env, project.id, configs.localfiles);
      const config = await loadStorageConfig(target, env.secretBox);
      const provider = await env.providerOf(target);
      await tap.start();
      const now = new Date().toISOString();
      const newAnnotation = async () => {
        const id = await reserveIds(env.db, 'annotation', 1);
        return createAnnotation(env.db, {
          kind: 'annotation', id, taskId: taskIds[0], projectId: project.id, orgId: 'org-export-test', result: [{ v: 0 }], completed_by: 1, ground_truth: false,
          lead_time: 1, was_cancelled: false, version: 1, created_at: now, updated_at: now,
        });
      };
      const read = async (id: number) => JSON.parse((await readObject(provider, exportObjectKey(config, id)))!) as { result: unknown };

      // Two updates in a row, records delivered in one batch.
      const a = await newAnnotation();
      await updateAnnotation(env.db, a.id, { result: [{ v: 1 }] });
      await updateAnnotation(env.db, a.id, { result: [{ v: 2 }] });
      const ra = await tap.readFor([a.id]);
      expect(ra).toHaveLength(3);
      expect((await processAnnotationRecords(env.deps, ra)).failures).toEqual([]);
      expect((await read(a.id)).result).toEqual([{ v: 2 }]);

      // Two updates in a row, delivered one record per batch in reverse order (a retried batch).
      const b = await newAnnotation();
      await updateAnnotation(env.db, b.id, { result: [{ v: 1 }] });
      await updateAnnotation(env.db, b.id, { result: [{ v: 2 }] });
      const rb = await tap.readFor([b.id]);
      for (const r of [...rb].reverse()) expect((await processAnnotationRecords(env.deps, [r])).failures).toEqual([]);
      expect((await read(b.id)).result).toEqual([{ v: 2 }]);

      // Two concurrent updates: both are kept as versions, the target shows the winner.
      const c = await newAnnotation();
      await Promise.all([updateAnnotation(env.db, c.id, { result: [{ v: 'x' }] }), updateAnnotation(env.db, c.id, { result: [{ v: 'y' }] })]);
      const stored = (await getAnnotation(env.db, c.id))!;
      expect(stored.version).toBe(3);
      const rc = await tap.readFor([c.id]);
      expect((await processAnnotationRecords(env.deps, rc)).failures).toEqual([]);
      expect((await read(c.id)).result).toEqual(stored.result);
    } finally {
      tap.destroy();
    }
  });
});
