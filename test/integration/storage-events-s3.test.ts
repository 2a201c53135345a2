/**
 * S3 event sync through the real storageEvents handler on the s3rver emulator: storages are
 * created through the storages API (which maintains the bucket → storages routing items), objects
 * are written to s3rver, and EventBridge-shaped S3 events are fed to the handler as SQS message
 * bodies. SQS and EventBridge themselves have no emulator here: the SQS event is built by the test.
 * Also the API side of `event_sync`: stored, returned, refused where a type cannot notify.
 */
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { handler as eventsHandler } from '../../functions/events/storage-events';
import { routesOfPlace } from '../../shared/db/repo-event-routes';
import { processApp } from '../../shared/process-app';
import { METRIC, metricValues, setMetricsSink } from '../../shared/metrics';
import type { EmfOutput } from '@aws-lambda-powertools/metrics/types';
import { createEmulatorS3Client } from '../emulators/s3-client';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { client, patchApp, type ApiHandler } from './api-harness';
import { emulators, newProject, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;
let s3: S3Client;
const BUCKET = `events-${Date.now().toString(36)}`;
let seq = 0x1000;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 50 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
  s3 = createEmulatorS3Client(emulators().s3);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await stopSyncHarness(h);
});

const body = (projectId: number, extra: Record<string, unknown> = {}) => {
  const e = emulators().s3;
  return { project: projectId, bucket: BUCKET, prefix: 'in', recursive_scan: true, s3_endpoint: e.endpoint, region_name: e.region, aws_access_key_id: e.accessKeyId, aws_secret_access_key: e.secretAccessKey, event_sync: true, sync_deletions: 'remove', ...extra };
};

/** An EventBridge S3 event as the default bus delivers it to the queue. */
function s3Event(bucket: string, key: string, kind: 'created' | 'removed', etag?: string) {
  return {
    version: '0', id: crypto.randomUUID(), 'detail-type': kind === 'created' ? 'Object Created' : 'Object Deleted', source: 'aws.s3',
    account: '123456789012', time: new Date().toISOString(), region: 'us-east-1', resources: [`arn:aws:s3:::${bucket}`],
    detail: { version: '0', bucket: { name: bucket }, object: { key, ...(etag ? { etag } : {}), sequencer: (seq++).toString(16).toUpperCase().padStart(18, '0') }, reason: kind === 'created' ? 'PutObject' : 'DeleteObject' },
  };
}

async function deliver(...bodies: unknown[]) {
  const event = { Records: bodies.map((b, i) => ({ messageId: `m${seq}-${i}`, body: typeof b === 'string' ? b : JSON.stringify(b) })) } as unknown as SQSEvent;
  return (await eventsHandler(event)) as { batchItemFailures: { itemIdentifier: string }[] };
}

async function put(key: string, value: string) {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: value, ContentType: 'application/json' }));
  return (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag?.replace(/"/g, '');
}

describe('S3 events through the SQS handler', () => {
  it('event_sync is stored and returned; routing follows create, update and delete', async () => {
    const projectId = await newProject(h.orgId);
    await put('in/seed.json', JSON.stringify({ image: 'seed' }));
    const r = await api('POST', '/api/storages/s3', body(projectId));
    expect(r.status).toBe(201);
    expect(r.json.event_sync).toBe(true);
    const id = r.json.id as number;
    expect((await routesOfPlace(processApp().db, 's3', BUCKET)).map((x) => x.storageId)).toContain(id);
    const off = await api('PATCH', `/api/storages/s3/${id}`, { event_sync: false });
    expect(off.status).toBe(200);
    expect((await routesOfPlace(processApp().db, 's3', BUCKET)).map((x) => x.storageId)).not.toContain(id);
    const noField = await api('POST', '/api/storages/s3', body(projectId, { event_sync: undefined }));
    expect(noField.json.event_sync).toBe(false);
    const bad = await api('POST', '/api/storages/s3', body(projectId, { event_sync: 'yes' }));
    expect(bad.status).toBe(400);
    expect(bad.json.validation_errors.event_sync).toBeDefined();
    await api('DELETE', `/api/storages/s3/${noField.json.id}`);
  });

  it('refuses event_sync where the deployment cannot notify (400 naming the field)', async () => {
    const projectId = await newProject(h.orgId);
    // Every type notifies somehow; local files need a subscriber, which a deployment without them lacks.
    patchApp({}, { LABELSYNC_EVENT_SUBSCRIBERS: 'false' });
    try {
      mkdirSync(join(h.root, 'no-subscribers'), { recursive: true });
      const r = await api('POST', '/api/storages/localfiles', { project: projectId, path: join(h.root, 'no-subscribers'), event_sync: true });
      expect(r.status).toBe(400);
      expect(r.json.validation_errors.event_sync[0]).toMatch(/not supported/);
    } finally {
      patchApp({}, { LABELSYNC_EVENT_SUBSCRIBERS: undefined });
    }
  });

  it('created and deleted objects become and stop being tasks; replays and foreign buckets change nothing', async () => {
    const projectId = await newProject(h.orgId);
    const r = await api('POST', '/api/storages/s3', body(projectId));
    expect(r.status).toBe(201);
    const id = r.json.id as number;
    const etagA = await put('in/a.json', JSON.stringify({ image: 'a' }));
    const etagB = await put('in/b.json', JSON.stringify([{ image: 'b0' }, { image: 'b1' }]));
    await put('other/c.json', JSON.stringify({ image: 'c' }));
    const first = await deliver(s3Event(BUCKET, 'in/a.json', 'created', etagA), s3Event(BUCKET, 'in/b.json', 'created', etagB), s3Event(BUCKET, 'other/c.json', 'created'), s3Event('nobody-follows-this', 'x.json', 'created'), 'not json');
    expect(first.batchItemFailures).toEqual([]);
    expect((await tasksOf(projectId)).map((t) => t.data.image).sort()).toEqual(['a', 'b0', 'b1']);
    // The same messages again (SQS redelivery): nothing new.
    await deliver(s3Event(BUCKET, 'in/a.json', 'created', etagA), s3Event(BUCKET, 'in/b.json', 'created', etagB));
    expect(await tasksOf(projectId)).toHaveLength(3);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'in/b.json' }));
    await deliver(s3Event(BUCKET, 'in/b.json', 'removed'));
    expect((await tasksOf(projectId)).map((t) => t.data.image)).toEqual(['a']);
    const s = await storageOf(id);
    // Tasks changed by events: a (1) and b (2) created, b's two removed.
    expect(s.meta).toMatchObject({ events_applied: 5 });
    // A full sync afterwards agrees (the seed object from the first test is new to this storage).
    await api('POST', `/api/storages/s3/${id}/sync`);
    await h.starter.idle();
    expect((await tasksOf(projectId)).map((t) => t.data.image).sort()).toEqual(['a', 'seed']);
  });

  it('records ObjectEventLag from the notification\'s event time to its batch applied', async () => {
    const projectId = await newProject(h.orgId);
    // The storage API checks that the prefix holds an object.
    const etag = await put('lag/l.json', JSON.stringify({ image: 'l' }));
    const r = await api('POST', '/api/storages/s3', body(projectId, { prefix: 'lag' }));
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const emitted: EmfOutput[] = [];
    setMetricsSink((emf) => emitted.push(emf));
    try {
      // Notified 5 s after the object was written (the event's time), as a backed-up queue would.
      const late = { ...s3Event(BUCKET, 'lag/l.json', 'created', etag), time: new Date(Date.now() - 5_000).toISOString() };
      expect((await deliver(late)).batchItemFailures).toEqual([]);
    } finally {
      setMetricsSink(undefined);
    }
    expect((await tasksOf(projectId)).map((t) => t.data.image)).toEqual(['l']);
    const lags = emitted.flatMap((e) => [metricValues(e)[METRIC.eventLag] ?? []].flat());
    expect(lags).toHaveLength(1);
    expect(lags[0]).toBeGreaterThanOrEqual(5_000);
    expect(lags[0]).toBeLessThan(60_000);
  });

  it('a storage whose events fail gets its messages retried, others are not', async () => {
    const projectId = await newProject(h.orgId);
    const r = await api('POST', '/api/storages/s3', body(projectId));
    const id = r.json.id as number;
    // Broken credentials: every lookup fails, so the call throws and its messages come back.
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const db = processApp().db;
    await db.doc.send(new UpdateCommand({ TableName: db.table, Key: { pk: `STORAGE#${id}`, sk: 'STORAGE' }, UpdateExpression: 'SET #f.s3_endpoint = :e', ExpressionAttributeNames: { '#f': 'fields' }, ExpressionAttributeValues: { ':e': 'http://127.0.0.1:9' } }));
    const res = await deliver(s3Event(BUCKET, 'in/a.json', 'created'));
    expect(res.batchItemFailures.length).toBe(1);
  });
});

describe('S3 lookup of notified keys', () => {
  it('one listing of the keys range answers what a HEAD per key would (present, etag, size; absent keys missing)', async () => {
    const e = emulators().s3;
    const keys = ['lk/a/1.json', 'lk/a/2.json', 'lk/a/3.json', 'lk/b/x.json', 'lk/z.json'];
    for (const k of keys) await put(k, JSON.stringify({ image: k }));
    const config = { type: 's3', bucket: BUCKET, prefix: 'lk', recursive_scan: true, s3_endpoint: e.endpoint, region_name: e.region, aws_access_key_id: e.accessKeyId, aws_secret_access_key: e.secretAccessKey } as const;
    const provider = await processApp().getProvider(config as never, { noCache: true });
    try {
      const asked = ['lk/z.json', 'lk/a/1.json', 'lk/a/3.json', 'lk/a/missing.json', 'lk/b/x.json', 'lk/zz.json'];
      const found = await provider.lookup!(asked);
      expect([...found.keys()].sort()).toEqual(['lk/a/1.json', 'lk/a/3.json', 'lk/b/x.json', 'lk/z.json']);
      for (const [k, h] of found) {
        const head = await provider.head(k);
        expect({ etag: h.etag, size: h.size }).toEqual({ etag: head.etag, size: head.size });
      }
      // Below the listing threshold the keys are HEADed, with the same answer.
      expect([...(await provider.lookup!(['lk/a/2.json', 'lk/a/nope.json'])).keys()]).toEqual(['lk/a/2.json']);
    } finally {
      await provider.close();
    }
  });
});
