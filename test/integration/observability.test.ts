/**
 * Observability through the real handlers: the 500 body's correlation id is API Gateway's
 * request id and the log line of the failure carries it; a sync run on the local ASL runner with
 * the real sync handlers emits ObjectsSynced / SyncFailures as EMF; EMF reaches stdout only in a
 * Lambda process, and an export batch records its failures and latency.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmfOutput } from '@aws-lambda-powertools/metrics/types';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { createApiHandler, type RequestContext } from '../../shared/http/handler';
import { Router } from '../../shared/http/router';
import { json } from '../../shared/http/types';
import { recordExportBatch } from '../../shared/export/batch-metrics';
import { countObjectsSynced, METRIC, METRICS_NAMESPACE, metricValues, publishMetrics, setMetricsSink } from '../../shared/metrics';
import { processApp } from '../../shared/process-app';
import type { StorageConfig } from '../../shared/storage/types';
import { client, v2Event, type ApiHandler } from './api-harness';
import { customRunner, newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, type SyncHarness } from './sync-helpers';

// What the CDK sets on every function; Powertools reads it when the first metric is recorded.
process.env.POWERTOOLS_METRICS_NAMESPACE = METRICS_NAMESPACE;

let h: SyncHarness;
const emitted: EmfOutput[] = [];

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 100 });
  setMetricsSink((emf) => emitted.push(emf));
}, 120_000);

afterAll(async () => {
  setMetricsSink(undefined);
  await stopSyncHarness(h);
});

afterEach(() => {
  emitted.length = 0;
});

/** Sum of one metric over every captured EMF document. */
const total = (name: string) =>
  emitted.reduce((n, emf) => {
    const v = metricValues(emf)[name];
    return n + (v === undefined ? 0 : Array.isArray(v) ? v.reduce((a, b) => a + b, 0) : v);
  }, 0);

/** Everything written to stdout/stderr while `fn` runs. */
async function captureOutput(fn: () => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const grab = (c: unknown) => (chunks.push(String(c)), true);
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return chunks.join('');
}

describe('correlation id', () => {
  const boom = createApiHandler(
    new Router<RequestContext>().get('/api/boom', async () => {
      throw new Error('unexpected failure inside a route');
    }).get('/api/ok', async () => json({ ok: true })),
    processApp,
  );

  it("is API Gateway's request id in a 500 body and in the error's log line", async () => {
    const event = v2Event('GET', '/api/boom', { headers: { authorization: `Token ${h.token}` } });
    let res: Awaited<ReturnType<typeof boom>> | undefined;
    const log = await captureOutput(async () => {
      res = await boom(event, {} as never);
    });
    expect(res!.statusCode).toBe(500);
    const body = JSON.parse(res!.body!);
    expect(body).toEqual({ status_code: 500, detail: 'Internal server error', correlation_id: event.requestContext.requestId });
    const line = log.split('\n').find((l) => l.includes('unhandled error'));
    expect(line, log).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 'ERROR', correlation_id: event.requestContext.requestId });
    // The message stays in the log, never in the body.
    expect(res!.body).not.toContain('unexpected failure');
  });

  it('does not carry one request id into the next invocation', async () => {
    const api = client(boom, h.token);
    await captureOutput(async () => expect((await api('GET', '/api/boom')).status).toBe(500));
    const event = v2Event('GET', '/api/ok', { headers: { authorization: `Token ${h.token}` } });
    const { getLogger } = await import('../../shared/logging');
    await boom(event, {} as never);
    expect(getLogger('api').getCorrelationId()).toBeUndefined();
  });
});

describe('metrics', () => {
  async function localStorage(files: Record<string, string>) {
    const dir = join(h.root, `obs-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir, { recursive: true });
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
    const projectId = await newProject(h.orgId);
    const config: StorageConfig = { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: false };
    return { dir, storage: await newStorage(h.orgId, projectId, config) };
  }

  async function sync(id: number) {
    const api = client(storagesHandler as unknown as ApiHandler, h.token);
    expect((await api('POST', `/api/storages/localfiles/${id}/sync`)).status).toBe(200);
    await h.starter.idle();
    return storageOf(id);
  }

  it('a sync emits ObjectsSynced (EMF, namespace labelsync) summing to the objects it wrote', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 230; i++) files[`${String(i).padStart(4, '0')}.json`] = JSON.stringify({ image: `http://x/${i}.png` });
    const { storage } = await localStorage(files);
    expect((await sync(storage.id)).status).toBe('completed');
    expect(total(METRIC.objectsSynced)).toBe(230);
    const doc = emitted.find((e) => metricValues(e)[METRIC.objectsSynced] !== undefined)!;
    expect(doc._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: METRICS_NAMESPACE, Dimensions: [['service']] });
    expect(doc.service).toBe('labelsync');
    expect(total(METRIC.syncFailures)).toBe(0);
  });

  it('a failed sync emits SyncFailures', async () => {
    const { storage } = await localStorage({ 'a.json': '{"image":"a"}' });
    // The listing step fails as a handler error; the real Finalize records the job as failed.
    const runner = await customRunner({
      syncList: () => async () => {
        throw new Error('listing failed');
      },
    });
    try {
      const api = client(storagesHandler as unknown as ApiHandler, h.token);
      expect((await api('POST', `/api/storages/localfiles/${storage.id}/sync`)).status).toBe(200);
      await runner.starter.idle();
    } finally {
      await runner.starter.stop();
      runner.restore(h);
    }
    expect((await storageOf(storage.id)).status).toBe('failed');
    expect(total(METRIC.syncFailures)).toBe(1);
    expect(total(METRIC.objectsSynced)).toBe(0);
  });

  it('an export batch records undelivered records and the latency of the oldest delivered one', () => {
    const now = 1_700_000_100_000;
    const record = (seq: string, createdSec: number) => ({ dynamodb: { SequenceNumber: seq, ApproximateCreationDateTime: createdSec } });
    recordExportBatch([record('1', 1_700_000_090), record('2', 1_700_000_050), record('3', 1_700_000_095)], ['2'], now);
    publishMetrics(false);
    expect(total(METRIC.exportFailures)).toBe(1);
    // Record 2 failed: the oldest delivered one is record 1, written 10 s before `now`.
    expect(total(METRIC.exportLatency)).toBe(10_000);
  });

  it('prints EMF to stdout only in a Lambda process, and nothing elsewhere', async () => {
    setMetricsSink(undefined);
    try {
      const local = await captureOutput(async () => {
        countObjectsSynced(3);
        publishMetrics(false);
      });
      expect(local).toBe('');
      const lambda = await captureOutput(async () => {
        countObjectsSynced(4);
        publishMetrics(true);
      });
      const emf = JSON.parse(lambda.trim()) as EmfOutput;
      expect(metricValues(emf)).toEqual({ [METRIC.objectsSynced]: 4 });
    } finally {
      setMetricsSink((emf) => emitted.push(emf));
    }
  });
});
