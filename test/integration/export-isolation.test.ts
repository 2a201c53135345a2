/**
 * Per-target isolation and failure records of the stream export, on the emulators:
 * - a target failing for a configuration reason (credentials refused, endpoint refused by the SSRF
 *   guard) does not fail its batch: the good target is written at once, the bad target's
 *   annotation becomes a failure record, and the local event source mapping (the poller, with the
 *   mapping's retry settings) invokes the handler once, with no retry, bisection or DLQ;
 * - a transient failure (endpoint down) still fails its records for retry;
 * - a batch the handler never finishes (timeout on every invocation) is dead-lettered, the replay
 *   function reads it back from the stream and records its annotations as failures, and the
 *   scheduled replay writes them once the target works, then forgets them.
 * The replay function is the real module invoked as in `npm start` (local/export-replay.ts).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { keys } from '../../shared/db/keys';
import { getStorage } from '../../shared/db/repo-storages';
import type { AnnotationItem, StorageItem } from '../../shared/db/items';
import { FAILURE_PK } from '../../shared/db/repo-export-failures';
import { processAnnotationRecords } from '../../shared/export/process-records';
import { reexportRecordedFailures } from '../../shared/export/replay';
import { LocalDlq } from '../../local/dlq';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { dlqEvent } from '../../local/export-replay';
import { scheduledEvent, startLocalSchedules } from '../../local/schedules';
import type { DlqEntry } from '../../local/dlq';
import { invokeLocal, LambdaInvocationError } from '../../local/lambda-functions';
import { isAnnotationRecord, StreamPoller } from '../../local/stream-poller';
import { freePort } from '../../local/emulators/process';
import { handler as exportHandler } from '../../functions/export/stream';
import { handler as replayHandler } from '../../functions/export/replay';
import { annotate, createProjectWithTask, fileOf, waitFor, createTarget, exportEnv, readObject, StreamTap, targetConfigs, type ExportEnv } from './export-helpers';

let env: ExportEnv;
let dir: string;
/** Projects of this file: other test files share the table and its stream. */
const mine = new Set<number>();
const project = async () => {
  const p = await createProjectWithTask(env);
  mine.add(p.project.id);
  return p;
};

beforeAll(async () => {
  env = exportEnv();
  dir = await mkdtemp(join(tmpdir(), 'labelsync-export-isolation-'));
});



const failureRecord = async (annotationId: number) =>
  (await env.db.doc.send(new GetCommand({ TableName: env.db.table, Key: { pk: FAILURE_PK, sk: `ANN#${annotationId}` }, ConsistentRead: true }))).Item;
const s3Object = async (s: StorageItem, key: string) => readObject(await env.providerOf((await getStorage(env.db, s.id))!), key);

async function setFields(s: StorageItem, fields: Record<string, unknown>, secrets?: Record<string, unknown>) {
  const names: Record<string, string> = { '#f': 'fields' };
  const values: Record<string, unknown> = {};
  const sets = Object.entries(fields).map(([k, v], i) => {
    names[`#k${i}`] = k;
    values[`:v${i}`] = v;
    return `#f.#k${i} = :v${i}`;
  });
  if (secrets) {
    sets.push('secrets = :s');
    values[':s'] = await env.secretBox.encrypt(JSON.stringify(secrets));
  }
  await env.db.doc.send(
    new UpdateCommand({ TableName: env.db.table, Key: keys.storage(s.id), UpdateExpression: `SET ${sets.join(', ')}`, ExpressionAttributeNames: names, ExpressionAttributeValues: values }),
  );
}

/** The local mapping on this file's projects, the handler invocations counted. */
function poller(handler: (e: DynamoDBStreamEvent) => Promise<unknown>, extra: Partial<ConstructorParameters<typeof StreamPoller>[0]> = {}) {
  const calls = { n: 0, records: 0 };
  const p = new StreamPoller({
    endpoint: inject('emulators').dynamodb.endpoint,
    region: 'us-east-1',
    tableName: inject('tableName'),
    handler: async (e) => {
      calls.n++;
      calls.records += e.Records.length;
      return (await handler(e)) as never;
    },
    dlq: new LocalDlq(join(dir, `dlq-${Math.random()}.jsonl`)),
    startingPosition: 'LATEST',
    filter: (r) => isAnnotationRecord(r) && mine.has(Number((r.dynamodb?.NewImage ?? r.dynamodb?.OldImage)?.projectId?.N)),
    retryBaseMs: 100,
    log: () => {},
    ...extra,
  });
  return { p, calls };
}

/** What `npm start` does with a dead-lettered batch: exportReplay gets the on-failure destination's SQS event. */
const onDeadLetter = async (e: DlqEntry) => {
  await invokeLocal('exportReplay', replayHandler as never, dlqEvent(e, 'us-east-1'), { region: 'us-east-1' });
};

describe('a target failing for a configuration reason', () => {
  it('does not hold the batch: the good target is written at once, the bad one gets a failure record, no retry', async () => {
    const p = await project();
    const c = await targetConfigs(env, `iso-${p.project.id}`);
    const revoked = await createTarget(env, p.project.id, { ...c.s3, aws_access_key_id: 'AKIAREVOKEDREVOKED01', aws_secret_access_key: 'revoked' });
    const good = await createTarget(env, p.project.id, c.localfiles);
    const { p: mapping, calls } = poller(exportHandler as never); // the mapping's own retry settings
    await mapping.start();
    try {
      const a = await annotate(env, p.project.id, p.taskIds[0]);
      const b = await annotate(env, p.project.id, p.taskIds[0]);
      // Annotations of one batch are exported concurrently: b's file says nothing about a's.
      for (const x of [a, b]) expect(JSON.parse(await waitFor(() => fileOf(good, x.id)))).toMatchObject({ id: x.id });
      for (const x of [a, b]) await waitFor(() => failureRecord(x.id));
      await mapping.drained();
      expect(await failureRecord(a.id)).toMatchObject({ annotationId: a.id, projectId: p.project.id, op: 'upsert', version: 1 });
      // Each record reached the handler once: no retry, no bisection, no DLQ. The two saves land in
      // one batch unless the second one took longer than the 1 s batching window (a loaded machine).
      expect(calls.records).toBe(2);
      expect(calls.n).toBeLessThanOrEqual(2);
      expect(mapping.stats).toMatchObject({ retries: 0, bisections: 0, deadLettered: 0, records: 2 });
      const s = (await getStorage(env.db, revoked.id))!;
      expect(s.status).toBe('failed');
      expect(s.meta).toMatchObject({ export_error: { code: 'access_denied' }, export_failing_since: expect.any(String) });

      // The scheduled replay leaves the records while the credentials are still refused, and
      // delivers them once they are fixed.
      const still = await reexportRecordedFailures(env.deps, { only: (f) => f.projectId === p.project.id });
      expect(still).toEqual({ reexported: 0, failed: 2 });
      expect(await failureRecord(a.id)).toBeDefined();
      await setFields(revoked, { s3_endpoint: c.s3.s3_endpoint }, { aws_access_key_id: c.s3.aws_access_key_id, aws_secret_access_key: c.s3.aws_secret_access_key });
      expect(await reexportRecordedFailures(env.deps, { only: (f) => f.projectId === p.project.id })).toEqual({ reexported: 2, failed: 0 });
      for (const x of [a, b]) expect(JSON.parse((await s3Object(revoked, `out/${x.id}`))!)).toMatchObject({ id: x.id });
      expect(await failureRecord(a.id)).toBeUndefined();
      expect((await getStorage(env.db, revoked.id))!.status).toBe('completed');
    } finally {
      await mapping.stop();
    }
  }, 90_000);

  it('classifies: refused credentials and an endpoint refused by the SSRF guard are recorded; a down endpoint is retried', async () => {
    const tap = new StreamTap();
    await tap.start();
    try {
      const [p1, p2, p3] = [await project(), await project(), await project()];
      const c = await targetConfigs(env, `cls-${p1.project.id}`);
      await createTarget(env, p1.project.id, { ...c.s3, aws_access_key_id: 'AKIAREVOKEDREVOKED02', aws_secret_access_key: 'revoked' });
      await createTarget(env, p2.project.id, { ...c.s3, s3_endpoint: 'http://169.254.169.254' });
      await createTarget(env, p3.project.id, { ...c.s3, s3_endpoint: `http://127.0.0.1:${await freePort()}` });
      const [x, y, z] = [await annotate(env, p1.project.id, p1.taskIds[0]), await annotate(env, p2.project.id, p2.taskIds[0]), await annotate(env, p3.project.id, p3.taskIds[0])];
      const records = await tap.readFor([x.id, y.id, z.id]);
      const seq = (id: number) => records.find((r) => r.dynamodb?.NewImage?.id?.N === String(id))!.dynamodb!.SequenceNumber;
      const r = await processAnnotationRecords(env.deps, records);
      expect(r.failures).toEqual([seq(z.id)]);
      expect(r.recorded.sort()).toEqual([seq(x.id), seq(y.id)].sort());
      for (const id of [x.id, y.id, z.id]) expect(await failureRecord(id)).toBeDefined();
    } finally {
      tap.destroy();
    }
  });
});

describe('a batch the handler never finishes', () => {
  it('is dead-lettered, recorded from the stream by the replay function, and delivered by the scheduled replay', async () => {
    const p = await project();
    const target = await createTarget(env, p.project.id, (await targetConfigs(env, `crash-${p.project.id}`)).localfiles);
    const timedOut = async () => {
      throw new LambdaInvocationError('Sandbox.Timedout', 'Task timed out after 120.00 seconds');
    };
    const { p: mapping, calls } = poller(timedOut, { retryAttempts: 1, retryBaseMs: 20, onDeadLetter });
    await mapping.start();
    let a: AnnotationItem;
    try {
      a = await annotate(env, p.project.id, p.taskIds[0]);
      await waitFor(() => failureRecord(a.id));
      await mapping.drained();
    } finally {
      await mapping.stop();
    }
    expect(calls.n).toBe(2); // first try + 1 retry, then the DLQ
    expect(mapping.stats.deadLettered).toBe(1);
    expect(await failureRecord(a.id)).toMatchObject({ annotationId: a.id, projectId: p.project.id, op: 'upsert', version: 1 });
    expect(await fileOf(target, a.id)).toBeUndefined();

    // The scheduled event, limited to this file's projects (other files' failures are theirs to replay).
    const r = await invokeLocal('exportReplay', replayHandler as never, { ...scheduledEvent('us-east-1'), detail: { projectIds: [...mine] } }, { region: 'us-east-1' });
    expect(r).toMatchObject({ reexported: expect.any(Number) });
    expect(JSON.parse((await fileOf(target, a.id))!)).toMatchObject({ id: a.id, result: [{ ok: a.id }] });
    expect(await failureRecord(a.id)).toBeUndefined();
  }, 90_000);
});


describe('the replay function on DLQ messages it cannot use', () => {
  const sqsEvent = (body: string) => ({
    Records: [{ messageId: `m-${Math.random()}`, receiptHandle: 'r', body, attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:dlq', awsRegion: 'us-east-1' }],
  });

  it('drops a message that is no on-failure record, or whose records the stream no longer has (retrying cannot help)', async () => {
    const tap = new StreamTap();
    await tap.start();
    try {
      const p = await project();
      const a = await annotate(env, p.project.id, p.taskIds[0]);
      const [rec] = await tap.readFor([a.id]);
      const seq = rec.dynamodb!.SequenceNumber!;
      const trimmed = JSON.stringify({ DDBStreamBatchInfo: { streamArn: tap.arn, shardId: 'shardId-00000000000000000000-gone', startSequenceNumber: seq, endSequenceNumber: seq, batchSize: 1 } });
      for (const body of ['not json', '{"version":"1.0"}', trimmed]) {
        expect(await invokeLocal('exportReplay', replayHandler as never, sqsEvent(body), { region: 'us-east-1' })).toEqual({ batchItemFailures: [] });
      }
      expect(await failureRecord(a.id)).toBeUndefined();
    } finally {
      tap.destroy();
    }
  });
});

describe('npm start: the replay schedule', () => {
  it('runs the replay function with a scheduled event from its manifest schedule, one run at a time', async () => {
    const events: Record<FunctionName, { source?: string; 'detail-type'?: string }[]> = {} as never;
    let inFlight = 0;
    let overlapped = false;
    const schedules = startLocalSchedules({
      resolveHandler: async (name) => async (e: unknown) => {
        if (name !== 'exportReplay') return;
        overlapped ||= inFlight > 0;
        inFlight++;
        (events[name] ??= []).push(e as never);
        await new Promise((r) => setTimeout(r, 80));
        inFlight--;
      },
      region: 'us-east-1',
      log: () => {},
      runAtStart: true,
    });
    try {
      expect(FUNCTIONS.exportReplay.everyMinutes).toBeGreaterThan(0);
      await waitFor(async () => (events.exportReplay?.length ? true : undefined), 30_000);
      await waitFor(async () => (inFlight === 0 ? true : undefined), 30_000);
      // A second run asked for while one is going is not started.
      await Promise.all([schedules.run('exportReplay'), schedules.run('exportReplay')]);
      expect(events.exportReplay).toHaveLength(2);
      expect(events.exportReplay[0]).toMatchObject({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
      expect(overlapped).toBe(false);
    } finally {
      schedules.stop();
    }
  });
});
