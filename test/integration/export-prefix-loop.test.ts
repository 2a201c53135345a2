/**
 * The import-side skip rule recognises what a target storage on the same bucket writes, whatever
 * the spelling of its prefix (`/out`, `out//x`): exported annotations never come back as tasks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { exportObjectKey } from '../../shared/export/key';
import type { StorageConfig } from '../../shared/storage/types';
import { createS3Buckets } from '../contract/helpers';
import { client, type ApiHandler } from './api-harness';
import { emulators, newProject, newStorage, seed, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;
const run = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 100 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
});

describe('export prefix loop', () => {
  it('skips the keys of targets with prefixes /out and out//x on the source bucket', async () => {
    const s3 = emulators().s3;
    const bucket = `sync-loop-${run}`;
    await createS3Buckets(s3.endpoint, s3, s3.region, [bucket]);
    const source: StorageConfig = {
      type: 's3',
      role: 'import',
      bucket,
      s3_endpoint: s3.endpoint,
      region_name: s3.region,
      aws_access_key_id: s3.accessKeyId,
      aws_secret_access_key: s3.secretAccessKey,
      recursive_scan: true,
    };
    const targets = ['/out', 'out//x'].map((prefix): StorageConfig => ({ ...source, role: 'export', prefix }));
    // The exporter writes each annotation at exportObjectKey of its target.
    const exported = Object.fromEntries(targets.flatMap((t, i) => [70 + i, 80 + i].map((id) => [exportObjectKey(t, id), `{"id":${id},"result":[]}`])));
    await seed(source, { 'in/1.json': '{"image":"1"}', ...exported });
    const projectId = await newProject(h.orgId);
    for (const t of targets) await newStorage(h.orgId, projectId, t);
    const storage = await newStorage(h.orgId, projectId, source);

    const res = await api('POST', `/api/storages/s3/${storage.id}/sync`);
    expect(res.status).toBe(200);
    await h.starter.idle();
    const after = await storageOf(storage.id);
    expect(after.status).toBe('completed');
    expect(after.meta).toMatchObject({ tasks_created: 1, objects_skipped_export: 4, objects_failed: 0 });
    expect((await tasksOf(projectId)).map((t) => t.source!.key)).toEqual(['in/1.json']);
  });
});
