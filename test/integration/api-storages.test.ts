/**
 * Storage routes end to end through the storages Lambda handler with real API Gateway v2 events,
 * against the emulators (S3, Azure, GCS, Redis, local files) and DynamoDB Local.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storages } from '../../functions/api/storages';
import { handler as projects } from '../../functions/api/projects';
import { installApp, processApp } from '../../shared/process-app';
import type { StorageItem } from '../../shared/db/items';
import { keys } from '../../shared/db/keys';
import { loadStorageConfig } from '../../shared/api/storages';
import { createEmulatorS3Client } from '../emulators/s3-client';
import { createS3Buckets } from '../contract/helpers';
import { client, newTenant, responseBodies, useTestEnvironment, patchApp } from './api-harness';

const em = inject('emulators');
const docRoot = mkdtempSync(join(tmpdir(), 'labelsync-docroot-'));
const BUCKET = 'api-storages-test';
const REDIS_PASSWORD = 'redis-pw-7f3c9d2e-never-echo';
const GCS_CONTAINER = 'api-storages-gcs';
const AZ_CONTAINER = 'api-storages-az';

let api: ReturnType<typeof client>;
let apiP: ReturnType<typeof client>;
let other: ReturnType<typeof client>;
let projectId: number;
let otherProjectId: number;
const exportHookCalls: StorageItem[] = [];

/** Secret values used in this file: none may ever appear in a response body. */
const WRONG_AZURE_KEY = Buffer.from('wrong-azure-key-5e6f7a8b-never-echo-0123456789').toString('base64');
const secretValues = (): string[] => [em.s3.secretAccessKey, em.azure.accountKey, REDIS_PASSWORD, em.gcsCredentials.private_key as string, 'wrong-secret-0a1b2c3d', WRONG_AZURE_KEY];

beforeAll(async () => {
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = docRoot;
  useTestEnvironment();
  patchApp({ onExportStorageCreated: async (s) => void exportHookCalls.push(s) });
  const t = await newTenant('storages');
  api = client(storages, t.token);
  apiP = client(projects, t.token);
  const o = await newTenant('storages-other');
  other = client(storages, o.token);
  projectId = (await apiP('POST', '/api/projects', { title: 'storages' })).json.id;
  otherProjectId = (await client(projects, o.token)('POST', '/api/projects', { title: 'theirs' })).json.id;

  await createS3Buckets(em.s3.endpoint, em.s3, em.s3.region, [BUCKET]);
  const s3 = createEmulatorS3Client(em.s3);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'images/a.jpg', Body: 'x' }));
  s3.destroy();
  const az = new BlobServiceClient(em.azure.blobEndpoint, new StorageSharedKeyCredential(em.azure.accountName, em.azure.accountKey));
  await az.getContainerClient(AZ_CONTAINER).createIfNotExists();
  const gcs = new Storage({ apiEndpoint: em.gcs.apiEndpoint, projectId: em.gcs.projectId, credentials: em.gcsCredentials });
  if (!(await gcs.bucket(GCS_CONTAINER).exists())[0]) await gcs.createBucket(GCS_CONTAINER);
  mkdirSync(join(docRoot, 'data'), { recursive: true });
  for (const f of ['1.json', '2.json', '3.json']) writeFileSync(join(docRoot, 'data', f), '{"text":"x"}');
});

afterAll(() => {
  // Every body any route answered in this file (successes and errors).
  expect(responseBodies.length).toBeGreaterThan(40);
  for (const body of responseBodies) for (const secret of secretValues()) expect(body.includes(secret), `a response contained a secret: ${body.slice(0, 200)}`).toBe(false);
});

const s3Body = (extra: Record<string, unknown> = {}) => ({
  project: projectId,
  title: 'raw images',
  bucket: BUCKET,
  prefix: 'images',
  region_name: em.s3.region,
  s3_endpoint: em.s3.endpoint,
  aws_access_key_id: em.s3.accessKeyId,
  aws_secret_access_key: em.s3.secretAccessKey,
  ...extra,
});

describe('S3 import storages', () => {
  it('creates with LS defaults and never returns credentials', async () => {
    const r = await api('POST', '/api/storages/s3', s3Body());
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      type: 's3',
      project: projectId,
      title: 'raw images',
      bucket: BUCKET,
      prefix: 'images',
      use_blob_urls: false,
      presign: true,
      presign_ttl: 1,
      recursive_scan: false,
      sync_deletions: 'keep',
      synchronizable: true,
      status: 'initialized',
      last_sync: null,
      last_sync_count: null,
      last_sync_job: null,
      traceback: null,
      meta: {},
      has_aws_access_key_id: true,
      has_aws_secret_access_key: true,
      has_aws_session_token: false,
      aws_sse_kms_key_id: null,
      description: null,
    });
    for (const f of ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token']) expect(r.json).not.toHaveProperty(f);
  });

  it('encrypts secrets before they reach DynamoDB and decrypts them for the core', async () => {
    const created = (await api('POST', '/api/storages/s3/', s3Body())).json;
    const raw = await processApp().db.doc.send(new GetCommand({ TableName: processApp().db.table, Key: keys.storage(created.id) }));
    const stored = JSON.stringify(raw.Item);
    expect(stored).not.toContain(em.s3.secretAccessKey);
    expect(stored).not.toContain(em.s3.accessKeyId);
    const config = await loadStorageConfig(raw.Item as StorageItem, processApp().secretBox);
    expect(config).toMatchObject({ type: 's3', role: 'import', bucket: BUCKET, aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey });
  });

  it('validates fields per field: bucket name, regex, ttl, key pair, types', async () => {
    const r = await api('POST', '/api/storages/s3', s3Body({ bucket: 'Bad_Bucket', regex_filter: '([', presign_ttl: 0 }));
    expect(r.status).toBe(400);
    expect(r.json.detail).toBe('Validation error');
    expect(Object.keys(r.json.validation_errors)).toContain('presign_ttl');
    const r2 = await api('POST', '/api/storages/s3', s3Body({ bucket: 'Bad_Bucket', regex_filter: '([' }));
    expect(Object.keys(r2.json.validation_errors).sort()).toEqual(['bucket', 'regex_filter']);
    const r3 = await api('POST', '/api/storages/s3', s3Body({ aws_secret_access_key: '' }));
    expect(r3.status).toBe(400);
    expect(r3.json.validation_errors.aws_secret_access_key[0]).toMatch(/provided together/);
    const r4 = await api('POST', '/api/storages/s3', s3Body({ use_blob_urls: 'yes', presign_ttl: 'x' }));
    expect(Object.keys(r4.json.validation_errors).sort()).toEqual(['presign_ttl', 'use_blob_urls']);
    const r5 = await api('POST', '/api/storages/s3', { bucket: BUCKET });
    expect(r5.json.validation_errors.project).toBeDefined();
  });

  it('answers 400 for a project that does not exist or belongs to another organization', async () => {
    for (const project of [99999999, otherProjectId]) {
      const r = await api('POST', '/api/storages/s3', s3Body({ project }));
      expect(r.status).toBe(400);
      expect(r.json.validation_errors.project).toBeDefined();
    }
  });

  it('reports connection problems as 400 without echoing credentials', async () => {
    const wrong = await api('POST', '/api/storages/s3', s3Body({ aws_secret_access_key: 'wrong-secret-0a1b2c3d' }));
    expect(wrong.status).toBe(400);
    expect(wrong.json.validation_errors.non_field_errors.length).toBeGreaterThan(0);
    const missing = await api('POST', '/api/storages/s3', s3Body({ bucket: 'no-such-bucket-here' }));
    expect(missing.status).toBe(400);
  });

  it('lists per type and across types, requiring ?project', async () => {
    expect((await api('GET', '/api/storages/s3')).status).toBe(400);
    expect((await api('GET', '/api/storages/s3/')).json.validation_errors.project[0]).toBe('query parameter "project" is required');
    expect((await api('GET', '/api/storages')).status).toBe(400);
    expect((await api('GET', '/api/storages/export')).status).toBe(400);
    const list = await api('GET', `/api/storages/s3?project=${projectId}`);
    expect(list.status).toBe(200);
    expect(list.json.length).toBeGreaterThanOrEqual(2);
    expect(list.json.every((s: { type: string }) => s.type === 's3')).toBe(true);
    const all = await api('GET', `/api/storages/?project=${projectId}`);
    expect(all.json.length).toBe(list.json.length);
    expect((await api('GET', `/api/storages/gcs?project=${projectId}`)).json).toEqual([]);
    expect((await api('GET', `/api/storages/s3?project=${otherProjectId}`)).status).toBe(404);
  });

  it('patch keeps omitted secrets, ignores read-only fields and refuses a project change', async () => {
    const s = (await api('POST', '/api/storages/s3', s3Body())).json;
    const r = await api('PATCH', `/api/storages/s3/${s.id}`, { title: 'renamed', presign_ttl: 15, status: 'completed', last_sync_count: 99, meta: { x: 1 } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ title: 'renamed', presign_ttl: 15, status: 'initialized', last_sync_count: null, meta: {}, has_aws_secret_access_key: true });
    // The connection check after the patch only passes if the stored secret was kept.
    expect((await api('POST', '/api/storages/s3/validate', { id: s.id })).status).toBe(200);
    const moved = await api('PATCH', `/api/storages/s3/${s.id}`, { project: projectId + 100000 });
    expect(moved.status).toBe(400);
    expect(moved.json.validation_errors.project).toBeDefined();
    const bad = await api('PATCH', `/api/storages/s3/${s.id}`, { aws_secret_access_key: 'wrong-secret-0a1b2c3d' });
    expect(bad.status).toBe(400);
    expect((await api('GET', `/api/storages/s3/${s.id}`)).json.title).toBe('renamed');
  });

  it('put requires project and keeps omitted secrets', async () => {
    const s = (await api('POST', '/api/storages/s3', s3Body())).json;
    expect((await api('PUT', `/api/storages/s3/${s.id}`, { title: 'no project' })).status).toBe(400);
    const r = await api('PUT', `/api/storages/s3/${s.id}`, { project: projectId, bucket: BUCKET, prefix: 'images', s3_endpoint: em.s3.endpoint, region_name: em.s3.region, title: 'put' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ title: 'put', has_aws_secret_access_key: true });
  });

  it('validate checks without saving; with id it reuses stored secrets and "" clears them', async () => {
    const before = (await api('GET', `/api/storages/s3?project=${projectId}`)).json.length;
    const ok = await api('POST', '/api/storages/s3/validate', s3Body());
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('');
    expect((await api('GET', `/api/storages/s3?project=${projectId}`)).json.length).toBe(before);
    const s = (await api('POST', '/api/storages/s3', s3Body())).json;
    expect((await api('POST', '/api/storages/s3/validate/', { id: s.id, prefix: 'images' })).status).toBe(200);
    const cleared = await api('POST', '/api/storages/s3/validate', { id: s.id, aws_secret_access_key: '' });
    expect(cleared.status).toBe(400);
    expect(cleared.json.validation_errors.aws_secret_access_key).toBeDefined();
    expect((await api('POST', '/api/storages/s3/validate', { id: 99999999 })).status).toBe(404);
    expect((await other('POST', '/api/storages/s3/validate', { id: s.id })).status).toBe(404);
  });

  it('deletes a storage (204), which disappears from reads and lists, and leaves a cancelled tombstone', async () => {
    const s = (await api('POST', '/api/storages/s3', s3Body())).json;
    expect((await api('DELETE', `/api/storages/s3/${s.id}/`)).status).toBe(204);
    expect((await api('GET', `/api/storages/s3/${s.id}`)).status).toBe(404);
    expect((await api('DELETE', `/api/storages/s3/${s.id}`)).status).toBe(404);
    const ids = (await api('GET', `/api/storages/s3?project=${projectId}`)).json.map((x: { id: number }) => x.id);
    expect(ids).not.toContain(s.id);
    const raw = await processApp().db.doc.send(new GetCommand({ TableName: processApp().db.table, Key: keys.storage(s.id) }));
    expect(raw.Item).toMatchObject({ cancelled: true });
    expect(raw.Item?.secrets).toBeUndefined();
  });

  it("answers 404 for another organization's storage, unknown ids, unknown types and wrong roles", async () => {
    const s = (await api('POST', '/api/storages/s3', s3Body())).json;
    for (const [m, path, body] of [
      ['GET', `/api/storages/s3/${s.id}`],
      ['PATCH', `/api/storages/s3/${s.id}`, { title: 'x' }],
      ['PUT', `/api/storages/s3/${s.id}`, s3Body()],
      ['DELETE', `/api/storages/s3/${s.id}`],
    ] as [string, string, unknown?][]) {
      expect((await other(m, path, body)).status, `${m} ${path}`).toBe(404);
    }
    expect((await api('GET', `/api/storages/gcs/${s.id}`)).status).toBe(404);
    expect((await api('GET', `/api/storages/export/s3/${s.id}`)).status).toBe(404);
    expect((await api('GET', '/api/storages/s3/99999999')).status).toBe(404);
    expect((await api('GET', '/api/storages/ftp?project=1')).status).toBe(404);
    expect((await api('POST', '/api/storages/ftp', {})).status).toBe(404);
    expect((await api('GET', `/api/storages/s3/${s.id}`)).status).toBe(200);
  });

  it('answers 401 without a token, 405 for wrong methods, 400 for malformed JSON', async () => {
    expect((await client(storages)('GET', '/api/storages/types')).status).toBe(401);
    expect((await api('DELETE', '/api/storages/s3')).status).toBe(405);
    expect((await api('PATCH', '/api/storages/types')).status).toBe(405);
    const r = await api('POST', '/api/storages/s3', '{"project":');
    expect(r.status).toBe(400);
    expect(r.json.status_code).toBe(400);
  });
});

describe('other types and export storages', () => {
  it('lists the types in LS order with our two after LS five', async () => {
    const expected = ['s3', 'gcs', 'azure', 'redis', 'localfiles', 's3s', 'azure_spi'];
    expect((await api('GET', '/api/storages/types')).json.map((t: { name: string }) => t.name)).toEqual(expected);
    expect((await api('GET', '/api/storages/export/types/')).json.map((t: { name: string }) => t.name)).toEqual(expected);
    expect((await api('GET', '/api/storages/types')).json[0]).toEqual({ name: 's3', title: 'AWS S3' });
  });

  it('creates an export storage, runs the creation hook, and lists it only among exports', async () => {
    const before = exportHookCalls.length;
    const r = await api('POST', '/api/storages/export/s3', s3Body({ prefix: 'out', can_delete_objects: true, export_key_format: 'id_json', recursive_scan: true }));
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ type: 's3', can_delete_objects: true, export_key_format: 'id_json', has_aws_secret_access_key: true });
    expect(r.json).not.toHaveProperty('presign');
    expect(r.json).not.toHaveProperty('sync_deletions');
    expect(exportHookCalls.length).toBe(before + 1);
    expect(exportHookCalls[before].id).toBe(r.json.id);
    const exports = await api('GET', `/api/storages/export?project=${projectId}`);
    expect(exports.json.map((s: { id: number }) => s.id)).toContain(r.json.id);
    const imports = await api('GET', `/api/storages?project=${projectId}`);
    expect(imports.json.map((s: { id: number }) => s.id)).not.toContain(r.json.id);
    expect((await api('GET', `/api/storages/export/s3/${r.json.id}`)).json.id).toBe(r.json.id);
    expect((await api('PATCH', `/api/storages/export/s3/${r.json.id}`, { export_key_format: 'bad' })).status).toBe(400);
    expect((await api('DELETE', `/api/storages/export/s3/${r.json.id}`)).status).toBe(204);
  });

  it('azure hides account name and key; gcs hides its credentials JSON', async () => {
    const az = await api('POST', '/api/storages/azure', {
      project: projectId, container: AZ_CONTAINER, account_name: em.azure.accountName, account_key: em.azure.accountKey, azure_endpoint: em.azure.blobEndpoint,
    });
    expect(az.status).toBe(201);
    expect(az.json).toMatchObject({ type: 'azure', container: AZ_CONTAINER, has_account_name: true, has_account_key: true });
    expect(az.json).not.toHaveProperty('account_name');
    expect(az.json).not.toHaveProperty('account_key');
    const gcs = await api('POST', '/api/storages/gcs', {
      project: projectId, bucket: GCS_CONTAINER, gcs_endpoint: em.gcs.apiEndpoint, google_project_id: em.gcs.projectId,
      google_application_credentials: JSON.stringify(em.gcsCredentials),
    });
    expect(gcs.status).toBe(201);
    expect(gcs.json).toMatchObject({ type: 'gcs', has_google_application_credentials: true });
    const wrongKey = await api('POST', '/api/storages/azure/validate', { id: az.json.id, account_key: WRONG_AZURE_KEY });
    expect(wrongKey.status).toBe(400);
    expect(wrongKey.json.validation_errors.non_field_errors.length).toBeGreaterThan(0);
    expect((await api('POST', '/api/storages/azure/validate', { id: az.json.id })).status).toBe(200);
    const badJson = await api('POST', '/api/storages/gcs', { project: projectId, bucket: GCS_CONTAINER, google_application_credentials: '{nope' });
    expect(badJson.status).toBe(400);
    expect(badJson.json.validation_errors.google_application_credentials).toBeDefined();
  });

  it('redis defaults db to 1 for import and 2 for export; the password is write-only and kept on patch', async () => {
    const base = { project: projectId, host: em.redis.host, port: String(em.redis.port) };
    const imp = await api('POST', '/api/storages/redis', base);
    expect(imp.status).toBe(201);
    expect(imp.json).toMatchObject({ db: 1, has_password: false });
    const exp = await api('POST', '/api/storages/export/redis', base);
    expect(exp.status).toBe(201);
    expect(exp.json.db).toBe(2);
    // The emulator has no password: Redis accepts the connection, so creation succeeds.
    const pw = await api('POST', '/api/storages/redis', { ...base, password: REDIS_PASSWORD });
    expect(pw.status).toBe(201);
    expect(pw.json).toMatchObject({ has_password: true });
    expect(pw.json).not.toHaveProperty('password');
    const patched = await api('PATCH', `/api/storages/redis/${pw.json.id}`, { path: 'tasks:' });
    expect(patched.json).toMatchObject({ path: 'tasks:', has_password: true });
    const cleared = await api('PATCH', `/api/storages/redis/${pw.json.id}`, { password: '' });
    expect(cleared.json).toMatchObject({ has_password: false });
  });

  it('local files: normalises the path, previews files with the limit marker', async () => {
    const r = await api('POST', '/api/storages/localfiles', { project: projectId, path: `${join(docRoot, 'data')}//`, regex_filter: '.*json' });
    expect(r.status).toBe(201);
    expect(r.json.path).toBe(join(docRoot, 'data'));
    const files = await api('POST', '/api/storages/localfiles/files', { id: r.json.id, limit: 2 });
    expect(files.status).toBe(200);
    expect(files.json.files).toHaveLength(3);
    const listed = files.json.files.slice(0, 2).map((f: { key: string }) => f.key);
    for (const k of listed) expect(['1.json', '2.json', '3.json'].map((f) => join(docRoot, 'data', f))).toContain(k);
    expect(files.json.files[0].size).toBe(12);
    expect(files.json.files[2]).toEqual({ key: null, last_modified: null, size: null });
    const all = await api('POST', '/api/storages/localfiles/files', { path: join(docRoot, 'data') });
    expect(all.json.files.map((f: { key: string }) => f.key)).toHaveLength(3);
    const outside = await api('POST', '/api/storages/localfiles', { project: projectId, path: '/etc' });
    expect(outside.status).toBe(400);
  });

  it('files preview of S3 lists the keys under the prefix', async () => {
    const r = await api('POST', '/api/storages/s3/files', s3Body());
    expect(r.status).toBe(200);
    expect(r.json.files.map((f: { key: string }) => f.key)).toEqual(['images/a.jpg']);
    const bad = await api('POST', '/api/storages/s3/files', s3Body({ aws_secret_access_key: 'wrong-secret-0a1b2c3d' }));
    expect(bad.status).toBe(400);
  });
});

describe('local files storage switched off', () => {
  it('drops localfiles from the type lists and answers 404 on its routes', async () => {
    const before = processApp();
    patchApp({}, { LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'false' });
    try {
      expect((await api('GET', '/api/storages/types')).json.map((t: { name: string }) => t.name)).toEqual(['s3', 'gcs', 'azure', 'redis', 's3s', 'azure_spi']);
      expect((await api('GET', `/api/storages/localfiles?project=${projectId}`)).status).toBe(404);
      expect((await api('POST', '/api/storages/localfiles', { project: projectId, path: docRoot })).status).toBe(404);
      expect((await api('GET', `/api/storages?project=${projectId}`)).json.some((s: { type: string }) => s.type === 'localfiles')).toBe(false);
    } finally {
      installApp(before);
    }
  });
});

describe('storage repository contract for the sync module', () => {
  it('updateStorageStatus honours status and job conditions and refuses deleted storages', async () => {
    const { getStorage } = await import('../../shared/db/repo-storages');
    const { updateStorageStatus } = await import('../../shared/db/repo-storage-sync-state');
    const db = processApp().db;
    const s = (await api('POST', '/api/storages/localfiles', { project: projectId, path: join(docRoot, 'data') })).json;
    const queued = await updateStorageStatus(db, s.id, { status: 'queued', last_sync_job: 'job-1', traceback: null }, { statusIn: ['initialized', 'completed', 'failed'] });
    expect(queued).toMatchObject({ status: 'queued', last_sync_job: 'job-1' });
    // A second queue attempt while queued is refused.
    expect(await updateStorageStatus(db, s.id, { status: 'queued' }, { statusIn: ['initialized', 'completed', 'failed'] })).toBeUndefined();
    // A stale job cannot write.
    expect(await updateStorageStatus(db, s.id, { status: 'completed' }, { jobId: 'job-0' })).toBeUndefined();
    expect(await updateStorageStatus(db, s.id, { status: 'in_progress', meta: { attempts: 1 } }, { jobId: 'job-1' })).toMatchObject({ status: 'in_progress' });
    expect((await api('GET', `/api/storages/localfiles/${s.id}`)).json).toMatchObject({ status: 'in_progress', last_sync_job: 'job-1', meta: { attempts: 1 } });
    expect((await api('DELETE', `/api/storages/localfiles/${s.id}`)).status).toBe(204);
    expect(await updateStorageStatus(db, s.id, { status: 'completed' }, { jobId: 'job-1' })).toBeUndefined();
    expect(await getStorage(db, s.id, { includeDeleted: true })).toMatchObject({ cancelled: true, status: 'in_progress' });
  });

  it('deleting a project tombstones its storages', async () => {
    const p = (await apiP('POST', '/api/projects', { title: 'doomed' })).json.id;
    const s = (await api('POST', '/api/storages/localfiles', { project: p, path: join(docRoot, 'data') })).json;
    expect((await apiP('DELETE', `/api/projects/${p}`)).status).toBe(204);
    expect((await api('GET', `/api/storages/localfiles/${s.id}`)).status).toBe(404);
    const { getStorage } = await import('../../shared/db/repo-storages');
    expect(await getStorage(processApp().db, s.id, { includeDeleted: true })).toMatchObject({ cancelled: true });
  });
});
