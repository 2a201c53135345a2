/**
 * Import sync on every provider type through the storages handler and the real state machine:
 * S3 (ordered: range diffs across chunks, blob mode), s3s (assumed
 * role — STS is a stub here because s3rver only accepts its own key), GCS, Azure (account key),
 * azure_spi (Azure AD cannot be reached offline: a fake TokenCredential, as in the contract suite),
 * Redis (unordered: mark-and-sweep) and the export-prefix rule (LS #8838).
 */
import { Storage } from '@google-cloud/storage';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { exportObjectKey } from '../../shared/export/key';
import type { StorageConfig } from '../../shared/storage/types';
import { createS3Buckets } from '../contract/helpers';
import { azuriteTlsOptions, fakeAzureAdCredential } from '../emulators/azure-helpers';
import { client, type ApiHandler, patchApp } from './api-harness';
import { deleteObjects, emulators, newProject, newStorage, seed, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;
const run = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 100 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
}, 120_000);

afterAll(async () => {
  patchApp({ storageHooks: {} });
  await stopSyncHarness(h);
});

async function sync(id: number, type: string) {
  const res = await api('POST', `/api/storages/${type}/${id}/sync`);
  expect(res.status).toBe(200);
  await h.starter.idle();
  return storageOf(id);
}

const s3Config = (bucket: string, extra: Partial<StorageConfig> = {}): StorageConfig => {
  const s3 = emulators().s3;
  return {
    type: 's3',
    role: 'import',
    bucket,
    s3_endpoint: s3.endpoint,
    region_name: s3.region,
    aws_access_key_id: s3.accessKeyId,
    aws_secret_access_key: s3.secretAccessKey,
    recursive_scan: true,
    ...extra,
  };
};

describe('import sync on every provider', () => {
  it('s3 (ordered): range diffs across chunks remove tasks of deleted objects, including before the first and after the last key', async () => {
    const s3 = emulators().s3;
    const bucket = `sync-s3-${run}`;
    await createS3Buckets(s3.endpoint, s3, s3.region, [bucket]);
    const objects: Record<string, string> = {};
    for (let i = 0; i < 320; i++) objects[`d${i % 4}/o${String(i).padStart(4, '0')}.png`] = 'x';
    const config = s3Config(bucket, { use_blob_urls: true });
    await seed(config, objects, 32);
    const projectId = await newProject(h.orgId);
    const storage = await newStorage(h.orgId, projectId, config, { sync_deletions: 'remove' });

    const first = await sync(storage.id, 's3');
    expect(first.status).toBe('completed');
    expect(first.meta).toMatchObject({ objects_listed: 320, objects_processed: 320, tasks_created: 320 });
    const tasks = await tasksOf(projectId);
    expect(tasks).toHaveLength(320);
    expect(tasks.find((t) => t.source!.key === 'd1/o0005.png')!.data).toEqual({ image: `s3://${bucket}/d1/o0005.png` });

    // Gone: the first key, keys in the middle of chunk ranges and at a chunk boundary, and the last key.
    const gone = ['d0/o0000.png', 'd1/o0101.png', 'd2/o0202.png', 'd3/o0319.png'];
    await deleteObjects(config, gone);
    const second = await sync(storage.id, 's3');
    expect(second.meta).toMatchObject({ tasks_created: 0, objects_unchanged: 316, tasks_removed: 4 });
    const left = await tasksOf(projectId);
    expect(left).toHaveLength(316);
    expect(left.some((t) => gone.includes(t.source!.key))).toBe(false);
  });

  it('s3s: lists and reads through the assumed role', async () => {
    const s3 = emulators().s3;
    const bucket = `sync-s3s-${run}`;
    await createS3Buckets(s3.endpoint, s3, s3.region, [bucket]);
    const assumed: string[] = [];
    patchApp({
      storageHooks: {
        stsClient: {
          async send(cmd: { input: { RoleArn?: string } }) {
            assumed.push(cmd.input.RoleArn ?? '');
            return { Credentials: { AccessKeyId: s3.accessKeyId, SecretAccessKey: s3.secretAccessKey, SessionToken: 'stub', Expiration: new Date(Date.now() + 3600_000) } };
          },
        } as never,
      },
    });
    try {
      await seed(s3Config(bucket), { 'a.json': '{"image":"s3s-a"}', 'b.json': '[{"image":"s3s-b0"},{"image":"s3s-b1"}]' });
      const projectId = await newProject(h.orgId);
      const { aws_access_key_id: _a, aws_secret_access_key: _b, ...rest } = s3Config(bucket);
      const storage = await newStorage(h.orgId, projectId, { ...rest, type: 's3s', role_arn: 'arn:aws:iam::123456789012:role/reader' });
      const after = await sync(storage.id, 's3s');
      expect(after.status).toBe('completed');
      expect((await tasksOf(projectId)).map((t) => t.data.image).sort()).toEqual(['s3s-a', 's3s-b0', 's3s-b1']);
      expect(assumed).toContain('arn:aws:iam::123456789012:role/reader');
    } finally {
      patchApp({ storageHooks: {} });
    }
  });

  it('gcs: JSON task files under a prefix', async () => {
    const { gcs, gcsCredentials } = emulators();
    const bucket = `sync-gcs-${run}`;
    const admin = new Storage({ apiEndpoint: gcs.apiEndpoint, projectId: gcs.projectId, credentials: gcsCredentials });
    const [exists] = await admin.bucket(bucket).exists();
    if (!exists) await admin.createBucket(bucket);
    const config: StorageConfig = {
      type: 'gcs', role: 'import', bucket, prefix: 'tasks', recursive_scan: true,
      gcs_endpoint: gcs.apiEndpoint, google_project_id: gcs.projectId, google_application_credentials: JSON.stringify(gcsCredentials),
    };
    await seed(config, { 'tasks/1.json': '{"image":"g1"}', 'tasks/2.jsonl': '{"image":"g2"}\n{"image":"g3"}', 'other/x.json': '{"image":"no"}' });
    const projectId = await newProject(h.orgId);
    const storage = await newStorage(h.orgId, projectId, config);
    const after = await sync(storage.id, 'gcs');
    expect(after.status).toBe('completed');
    expect((await tasksOf(projectId)).map((t) => t.data.image).sort()).toEqual(['g1', 'g2', 'g3']);
  });

  it('azure: blob mode makes azure-blob:// URIs', async () => {
    const az = emulators().azure;
    const container = `sync-az-${run}`;
    await new BlobServiceClient(az.blobEndpoint, new StorageSharedKeyCredential(az.accountName, az.accountKey)).getContainerClient(container).createIfNotExists();
    const config: StorageConfig = {
      type: 'azure', role: 'import', container, account_name: az.accountName, account_key: az.accountKey, azure_endpoint: az.blobEndpoint, use_blob_urls: true, recursive_scan: true,
    };
    await seed(config, { 'img/1.png': 'x', 'img/2.png': 'y' });
    const projectId = await newProject(h.orgId, ['image']);
    const storage = await newStorage(h.orgId, projectId, config);
    const after = await sync(storage.id, 'azure');
    expect(after.status).toBe('completed');
    expect((await tasksOf(projectId)).map((t) => t.data.image).sort()).toEqual([`azure-blob://${container}/img/1.png`, `azure-blob://${container}/img/2.png`]);
  });

  it('azure_spi: service principal (fake Azure AD token) on Azurite over HTTPS', async () => {
    const az = emulators().azureOauth;
    const container = `sync-spi-${run}`;
    await new BlobServiceClient(az.blobEndpoint, new StorageSharedKeyCredential(az.accountName, az.accountKey), azuriteTlsOptions(az.caCertPath))
      .getContainerClient(container)
      .createIfNotExists();
    patchApp({ storageHooks: { azureTokenCredential: fakeAzureAdCredential() } });
    try {
      const config: StorageConfig = {
        type: 'azure_spi', role: 'import', container, account_name: az.accountName, azure_endpoint: az.blobEndpoint,
        tenant_id: 't', client_id: 'c', client_secret: 'spi-secret', recursive_scan: true,
      };
      await seed(config, { 'a.json': '{"image":"spi"}' });
      const projectId = await newProject(h.orgId);
      const storage = await newStorage(h.orgId, projectId, config);
      const after = await sync(storage.id, 'azure_spi');
      expect(after.status).toBe('completed');
      expect((await tasksOf(projectId)).map((t) => t.data.image)).toEqual(['spi']);
    } finally {
      patchApp({ storageHooks: {} });
    }
  });

  it('redis: unordered listing; vanished keys found by mark-and-sweep ("flag")', async () => {
    const r = emulators().redis;
    const db = 11;
    const path = `sync-${run}:`;
    const config: StorageConfig = { type: 'redis', role: 'import', host: r.host, port: r.port, db, path };
    const objects: Record<string, string> = {};
    for (let i = 0; i < 230; i++) objects[`${path}${i}`] = JSON.stringify({ image: `r${i}` });
    await seed(config, objects);
    const projectId = await newProject(h.orgId);
    const storage = await newStorage(h.orgId, projectId, config, { sync_deletions: 'flag' });
    const first = await sync(storage.id, 'redis');
    expect(first.status).toBe('completed');
    expect(first.meta).toMatchObject({ tasks_created: 230 });
    const c = new Redis({ host: r.host, port: r.port, db });
    await c.del(`${path}5`, `${path}200`);
    c.disconnect();
    const second = await sync(storage.id, 'redis');
    expect(second.meta).toMatchObject({ tasks_created: 0, tasks_flagged: 2, objects_unchanged: 228 });
    const flagged = (await tasksOf(projectId)).filter((t) => t.object_exists === false).map((t) => t.data.image).sort();
    expect(flagged).toEqual(['r200', 'r5']);
  });

  it('keys under a target storage prefix on the same bucket are not imported (exported annotations never come back)', async () => {
    const s3 = emulators().s3;
    const bucket = `sync-exp-${run}`;
    await createS3Buckets(s3.endpoint, s3, s3.region, [bucket]);
    const config = s3Config(bucket);
    await seed(config, { 'in/1.json': '{"image":"1"}', 'out/77': '{"id":77,"result":[]}', 'out/78': '{"id":78,"result":[]}' });
    const projectId = await newProject(h.orgId);
    await newStorage(h.orgId, projectId, { ...s3Config(bucket), role: 'export', prefix: 'out/' });
    const storage = await newStorage(h.orgId, projectId, config);
    const after = await sync(storage.id, 's3');
    expect(after.status).toBe('completed');
    expect(after.meta).toMatchObject({ tasks_created: 1, objects_skipped_export: 2, objects_failed: 0 });
    expect((await tasksOf(projectId)).map((t) => t.source!.key)).toEqual(['in/1.json']);
  });

  it('skips what targets with prefixes /out and out//x on the same bucket write (one prefix rule for export keys and the skip)', async () => {
    const s3 = emulators().s3;
    const bucket = `sync-loop-${run}`;
    await createS3Buckets(s3.endpoint, s3, s3.region, [bucket]);
    const config = s3Config(bucket);
    const targets = ['/out', 'out//x'].map((prefix): StorageConfig => ({ ...config, role: 'export', prefix }));
    // The exporter writes each annotation at exportObjectKey of its target.
    const exported = Object.fromEntries(targets.flatMap((t, i) => [70 + i, 80 + i].map((id) => [exportObjectKey(t, id), `{"id":${id},"result":[]}`])));
    await seed(config, { 'in/1.json': '{"image":"1"}', ...exported });
    const projectId = await newProject(h.orgId);
    for (const t of targets) await newStorage(h.orgId, projectId, t);
    const storage = await newStorage(h.orgId, projectId, config);
    const after = await sync(storage.id, 's3');
    expect(after.status).toBe('completed');
    expect(after.meta).toMatchObject({ tasks_created: 1, objects_skipped_export: 4, objects_failed: 0 });
    expect((await tasksOf(projectId)).map((t) => t.source!.key)).toEqual(['in/1.json']);
  });
});
