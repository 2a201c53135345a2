/**
 * Export sync end to end: POST /api/storages/export/{type}/{id}/sync (and creating a target
 * storage, which syncs at once) through the storages HTTP handler, the real synthesized state
 * machine on the local ASL runner with the real sync handlers, against the emulators. Chunks of
 * 500 annotations, so the 2,600 of the local-files target make several chunks and listing pages.
 */
import { readdir, readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { processApp } from '../../shared/process-app';
import { reserveIds } from '../../shared/db/counters';
import type { AnnotationItem, TaskItem } from '../../shared/db/items';
import { putAnnotations, updateAnnotation } from '../../shared/db/repo-annotations';
import { putTasks } from '../../shared/db/repo-tasks';
import { listProjectAnnotationIds } from '../../shared/export/sync';
import { exportObjectKey } from '../../shared/export/key';
import { exportEnv, targetConfigs } from './export-helpers';
import { client, type ApiHandler } from './api-harness';
import { emulators, newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;
const N = 2600;
let projectId: number;
let annotationIds: number[];

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 500 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
  ({ projectId, annotationIds } = await seedProject(N));
}, 180_000);

/** A project with `n` annotations, 4 per task, written in batches as an import would. */
async function seedProject(n: number): Promise<{ projectId: number; annotationIds: number[] }> {
  const db = processApp().db;
  const pid = await newProject(h.orgId, ['image']);
  const now = new Date().toISOString();
  const firstTask = await reserveIds(db, 'task', n / 4);
  const tasks: TaskItem[] = Array.from({ length: n / 4 }, (_, i) => ({
    kind: 'task', id: firstTask + i, projectId: pid, orgId: h.orgId, data: { $undefined$: `s3://b/${i}.png` }, is_labeled: true,
    total_annotations: 4, cancelled_annotations: 0, total_predictions: 0, created_at: now, updated_at: now,
  }));
  await putTasks(db, tasks);
  const firstAnn = await reserveIds(db, 'annotation', n);
  const anns: AnnotationItem[] = Array.from({ length: n }, (_, i) => ({
    kind: 'annotation', id: firstAnn + i, taskId: firstTask + Math.floor(i / 4), projectId: pid, orgId: h.orgId, result: [{ n: i }],
    completed_by: 1, ground_truth: false, lead_time: 1, was_cancelled: false, version: 1, created_at: now, updated_at: now,
  }));
  await putAnnotations(db, anns);
  return { projectId: pid, annotationIds: anns.map((a) => a.id) };
}

afterAll(async () => {
  await stopSyncHarness(h);
});

describe('export sync', () => {
  it('lists every annotation of the project once over the 16 shards, resumable at any page', async () => {
    const db = processApp().db;
    const seen: number[] = [];
    let token: string | undefined;
    // Resume after every page, as separate listing steps would.
    for (;;) {
      const it = listProjectAnnotationIds(db, projectId, { startToken: token, pageSize: 300 });
      const page = await it.next();
      if (page.done) break;
      seen.push(...page.value.items);
      token = page.value.nextToken;
      await it.return(undefined);
      if (!token) break;
    }
    expect(seen.length).toBe(N);
    expect(new Set(seen).size).toBe(N);
    expect([...seen].sort((a, b) => a - b)).toEqual(annotationIds);
  });

  it('pushes every existing annotation to a local-files target and reports the count', async () => {
    const dir = join(h.root, `export-${projectId}`);
    mkdirSync(dir, { recursive: true });
    const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'export', path: dir });
    await updateAnnotation(processApp().db, annotationIds[7], { result: [{ n: 'v2' }] });
    const res = await api('POST', `/api/storages/export/localfiles/${storage.id}/sync`);
    expect(res.status).toBe(200);
    await h.starter.idle();
    const s = await storageOf(storage.id);
    expect(s.status).toBe('completed');
    expect(s.last_sync_count).toBe(N);
    expect(s.last_sync).toBeTruthy();
    expect(s.meta.total_annotations).toBe(N);
    // Counted as annotations, not with the import's task/object names.
    expect(s.meta).toMatchObject({ annotations_exported: N, annotations_failed: 0 });
    for (const importName of ['tasks_created', 'objects_listed', 'objects_processed', 'tasks_existed']) expect(s.meta).not.toHaveProperty(importName);
    const files = await readdir(dir);
    expect(files.length).toBe(N);
    expect(new Set(files)).toEqual(new Set(annotationIds.map(String)));
    const doc = JSON.parse(await readFile(join(dir, String(annotationIds[7])), 'utf8'));
    expect(doc).toMatchObject({ id: annotationIds[7], result: [{ n: 'v2' }], task: { data: { image: 's3://b/1.png' } } });
  }, 180_000);

  // Creating the target is the point here; the listing over several pages is the test above's
  // (same lister for every type), so 600 annotations (two chunks) keep s3rver's writes short.
  it('syncs a new S3 target at once when it is created through the API', async () => {
    const M = 600;
    const small = await seedProject(M);
    const s3 = emulators().s3;
    const { createS3Buckets } = await import('../contract/helpers');
    const bucket = `export-sync-${small.projectId}`;
    await createS3Buckets(s3.endpoint, s3, s3.region, [bucket]);
    const res = await api('POST', '/api/storages/export/s3', {
      project: small.projectId, bucket, prefix: 'ann/', s3_endpoint: s3.endpoint, region_name: s3.region,
      aws_access_key_id: s3.accessKeyId, aws_secret_access_key: s3.secretAccessKey, export_key_format: 'id_json',
    });
    expect(res.status).toBe(201);
    const id = (res.json as { id: number }).id;
    await h.starter.idle();
    const s = await storageOf(id);
    expect(s.status).toBe('completed');
    expect(s.last_sync_count).toBe(M);
    const app = processApp();
    const p = await app.getProvider(await app.storageConfig(s), { noCache: true });
    let count = 0;
    const keys: string[] = [];
    for await (const page of p.list()) {
      count += page.entries.length;
      keys.push(...page.entries.map((e) => e.key));
    }
    await p.close();
    expect(count).toBe(M);
    expect(new Set(keys)).toEqual(new Set(small.annotationIds.map((id) => `ann/${id}.json`)));
  }, 180_000);

  it('ends failed while the target refuses writes, and completed once it accepts them again', async () => {
    const small = await seedProject(8);
    const s3 = emulators().s3;
    const { createS3Buckets } = await import('../contract/helpers');
    const bucket = `export-denied-${small.projectId}`;
    await createS3Buckets(s3.endpoint, s3, s3.region, [bucket]);
    // The real emulator behind a proxy that refuses uploads, as S3 does once a key loses
    // s3:PutObject: the connection check (reads) passes, every write is denied.
    const proxy = await denyWritesProxy(s3.endpoint);
    try {
      const config = { type: 's3', role: 'export', bucket, s3_endpoint: proxy.url, region_name: s3.region, aws_access_key_id: s3.accessKeyId, aws_secret_access_key: s3.secretAccessKey } as const;
      const storage = await newStorage(h.orgId, small.projectId, config);
      expect((await api('POST', `/api/storages/export/s3/${storage.id}/sync`)).status).toBe(200);
      await h.starter.idle();
      const down = await storageOf(storage.id);
      expect(down.status).toBe('failed');
      expect(down.meta).toMatchObject({ export_failing_since: expect.any(String), export_error: { code: 'access_denied' }, annotations_exported: 0, annotations_failed: 8 });
      expect(down.traceback).toBeTruthy();

      const { patchStorage } = await import('./resolve-helpers');
      await patchStorage(storage, { s3_endpoint: s3.endpoint });
      expect((await api('POST', `/api/storages/export/s3/${storage.id}/sync`)).status).toBe(200);
      await h.starter.idle();
      const up = await storageOf(storage.id);
      expect({ status: up.status, traceback: up.traceback, count: up.last_sync_count }).toEqual({ status: 'completed', traceback: null, count: 8 });
      expect(up.meta).not.toHaveProperty('export_failing_since');
      expect(up.meta).toMatchObject({ annotations_exported: 8 });
    } finally {
      proxy.server.close();
    }
  }, 60_000);

  // 2,600 annotations run on local files above; S3 and the other four types sync 600 (two chunks)
  // to keep this file near a minute on a shared 2-core machine.
  it('pushes every annotation to GCS, Azure, Azure service principal and Redis targets too', async () => {
    const M = 600;
    const small = await seedProject(M);
    const env = exportEnv();
    const configs = await targetConfigs(env, `sync-${small.projectId}`);
    const types = ['gcs', 'azure', 'azure_spi', 'redis'] as const;
    const items = [];
    for (const t of types) items.push(await newStorage(h.orgId, small.projectId, { ...configs[t], ...(t === 'redis' ? { db: 5 } : { prefix: `sync-${t}` }) }));
    for (const s of items) expect((await api('POST', `/api/storages/export/${s.type}/${s.id}/sync`)).status).toBe(200);
    await h.starter.idle();
    for (const item of items) {
      const s = await storageOf(item.id);
      expect({ type: s.type, status: s.status, count: s.last_sync_count, total: s.meta.total_annotations, traceback: s.traceback }).toEqual({ type: item.type, status: 'completed', count: M, total: M, traceback: null });
      const { loadStorageConfig } = await import('../../shared/api/storages');
      const config = await loadStorageConfig(s, processApp().secretBox);
      // The installed app carries the emulators' storage hooks (Azure AD credential, CA).
      const p = await processApp().getProvider(config, { noCache: true });
      const seen = new Set<string>();
      for await (const page of p.list()) for (const e of page.entries) seen.add(e.key);
      const want = small.annotationIds.map((id) => exportObjectKey(config, id));
      expect(want.filter((k) => !seen.has(k)), s.type).toEqual([]);
      const r = await p.read(exportObjectKey(config, small.annotationIds[100]));
      const chunks: Buffer[] = [];
      for await (const c of r.body) chunks.push(Buffer.from(c));
      expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ id: small.annotationIds[100], result: [{ n: 100 }] });
      await p.close();
    }
  }, 180_000);
});

/** An HTTP proxy to `endpoint` that answers every PUT with S3's 403 AccessDenied. */
async function denyWritesProxy(endpoint: string): Promise<{ url: string; server: Server }> {
  const target = new URL(endpoint);
  const server = createServer((req, res) => {
    if (req.method === 'PUT') {
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
      return;
    }
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
