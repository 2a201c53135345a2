/**
 * Local mode and the DLQ of the export stream:
 * - `npm start`'s stream poller (local/stream-poller.ts, the event source mapping's semantics)
 *   delivers DynamoDB Local's stream to the real export handler module; a saved annotation shows up
 *   in a local-files target within a second or two;
 * - a target that stays down sends the batch to the local JSONL DLQ; once fixed, the replay
 *   delivers it (nothing lost);
 * - AWS: the SQS on-failure message (metadata only) is read back from the stream with
 *   AT_SEQUENCE_NUMBER and replayed; a message whose records are gone is covered by re-exporting
 *   the failures the handler recorded in the table. SQS runs on moto's server (the same process as
 *   the STS emulator); when moto is absent an in-memory queue stands in, as for STS.
 */
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { keys } from '../../shared/db/keys';
import type { StorageItem } from '../../shared/db/items';
import { FAILURE_PK } from '../../shared/db/repo-export-failures';
import { processAnnotationRecords } from '../../shared/export/process-records';
import { measureDlqDepth, replaySqsDlq } from '../../shared/export/replay';
import { METRIC, metricValues, publishMetrics, setMetricsSink } from '../../shared/metrics';
import { LocalDlq, replayDlq } from '../../local/dlq';
import { isAnnotationRecord, StreamPoller } from '../../local/stream-poller';
import { freePort } from '../../local/emulators/process';
import { handler as exportHandler } from '../../functions/export/stream';
import { annotate, createProjectWithTask, fileOf, waitFor, createTarget, exportEnv, StreamTap, targetConfigs, type ExportEnv } from './export-helpers';

let env: ExportEnv;
let dir: string;
/** Projects of this file: other test files share the table (and its stream) at the same time. */
const mine = new Set<number>();
const project = async () => {
  const p = await createProjectWithTask(env);
  mine.add(p.project.id);
  return p;
};

beforeAll(async () => {
  env = exportEnv();
  dir = await mkdtemp(join(tmpdir(), 'labelsync-export-dlq-'));
});




async function fixEndpoint(s: StorageItem, endpoint: string) {
  await env.db.doc.send(
    new UpdateCommand({
      TableName: env.db.table,
      Key: keys.storage(s.id),
      UpdateExpression: 'SET #f.s3_endpoint = :e',
      ExpressionAttributeNames: { '#f': 'fields' },
      ExpressionAttributeValues: { ':e': endpoint },
    }),
  );
}

async function s3Object(s: StorageItem, key: string): Promise<string | undefined> {
  const { getStorage } = await import('../../shared/db/repo-storages');
  const p = await env.providerOf((await getStorage(env.db, s.id))!);
  try {
    const r = await p.read(key);
    const chunks: Buffer[] = [];
    for await (const c of r.body) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks).toString();
  } catch {
    return undefined;
  }
}

describe('local mode: stream poller → export handler', () => {
  let poller: StreamPoller;
  const dlqFile = () => join(dir, 'export-dlq.jsonl');

  beforeAll(async () => {
    poller = new StreamPoller({
      endpoint: inject('emulators').dynamodb.endpoint,
      region: 'us-east-1',
      tableName: inject('tableName'),
      handler: exportHandler as unknown as (e: DynamoDBStreamEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>,
      dlq: new LocalDlq(dlqFile()),
      startingPosition: 'LATEST',
      filter: (r) => isAnnotationRecord(r) && mine.has(Number((r.dynamodb?.NewImage ?? r.dynamodb?.OldImage)?.projectId?.N)),
      retryAttempts: 1,
      retryBaseMs: 20,
      log: () => {},
    });
    await poller.start();
  });
  afterAll(async () => poller?.stop());

  // How fast it shows (saved → visible ≤ 2 s) is a bench target (bench/export.ts).
  it('shows a saved annotation in a local-files target', async () => {
    const p = await project();
    const target = await createTarget(env, p.project.id, (await targetConfigs(env, `local-${p.project.id}`)).localfiles);
    for (let i = 0; i < 3; i++) {
      const a = await annotate(env, p.project.id, p.taskIds[0]);
      const text = await waitFor(() => fileOf(target, a.id));
      expect(JSON.parse(text)).toMatchObject({ id: a.id, result: [{ ok: a.id }] });
    }
  });

  it('dead-letters what a down target keeps refusing, and the replay delivers it once fixed', async () => {
    const p = await project();
    const c = await targetConfigs(env, `dlq-${p.project.id}`);
    const down = await createTarget(env, p.project.id, { ...c.s3, s3_endpoint: `http://127.0.0.1:${await freePort()}` });
    const healthy = await createTarget(env, p.project.id, c.localfiles);
    const a = await annotate(env, p.project.id, p.taskIds[0]);
    await waitFor(() => fileOf(healthy, a.id)); // the other target is not blocked
    const entry = await waitFor(async () => {
      const d = new LocalDlq(dlqFile());
      for await (const e of d.entries()) if (e.records.some((r) => r.dynamodb?.NewImage?.id?.N === String(a.id))) return e;
      return undefined;
    }, 30_000);
    expect(entry.records.length).toBeGreaterThanOrEqual(1);
    expect(await s3Object(down, `out/${a.id}`)).toBeUndefined();

    await fixEndpoint(down, c.s3.s3_endpoint as string);
    const r = await replayDlq(dlqFile(), exportHandler as never);
    expect(r.failed).toBe(0);
    expect(r.replayed).toBeGreaterThanOrEqual(1);
    expect(JSON.parse((await s3Object(down, `out/${a.id}`))!)).toMatchObject({ id: a.id });
    expect((await stat(dlqFile()).catch(() => undefined))?.size ?? 0).toBe(0);
  }, 60_000);
});

describe('AWS DLQ replay (SQS on-failure messages)', () => {
  let tap: StreamTap;
  let sqs: Pick<SQSClient, 'send'>;
  let queueUrl: string;

  beforeAll(async () => {
    tap = new StreamTap();
    await tap.start();
    const sts = inject('emulators').sts;
    if (sts) {
      const client = new SQSClient({ endpoint: sts.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      queueUrl = (await client.send(new CreateQueueCommand({ QueueName: `export-dlq-${Date.now()}` }))).QueueUrl!;
      sqs = client;
    } else {
      // moto absent: a minimal in-memory queue with SQS's receive/delete semantics.
      const q = new Map<string, string>();
      queueUrl = 'memory://export-dlq';
      sqs = {
        send: (async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => {
          const name = cmd.constructor.name;
          if (name === 'SendMessageCommand') q.set(String(q.size + Math.random()), String(cmd.input.MessageBody));
          if (name === 'ReceiveMessageCommand') return { Messages: [...q].slice(0, 10).map(([h, b]) => ({ MessageId: h, ReceiptHandle: h, Body: b })) };
          if (name === 'DeleteMessageCommand') q.delete(String(cmd.input.ReceiptHandle));
          if (name === 'GetQueueAttributesCommand') return { Attributes: { ApproximateNumberOfMessages: String(q.size), ApproximateNumberOfMessagesNotVisible: '0' } };
          return {};
        }) as never,
      };
    }
  });
  afterAll(() => tap?.destroy());

  const onFailure = (streamArn: string, shardId: string, first: string, last: string, size: number) =>
    JSON.stringify({
      requestContext: { requestId: 'r', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:exportStream', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: null },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: { shardId, startSequenceNumber: first, endSequenceNumber: last, batchSize: size, streamArn },
    });

  const queued = async () => {
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  };

  it('reads the failed batch back from the stream and delivers it, and covers expired batches from the table', async () => {
    const p = await project();
    const c = await targetConfigs(env, `sqs-${p.project.id}`);
    const target = await createTarget(env, p.project.id, { ...c.s3, s3_endpoint: `http://127.0.0.1:${await freePort()}` });
    const a = await annotate(env, p.project.id, p.taskIds[0]);
    const b = await annotate(env, p.project.id, p.taskIds[0]);
    const recs = await tap.readFor([a.id, b.id]);
    expect(recs.length).toBe(2);
    // The mapping gives up on both batches (the target is down).
    for (const r of recs) expect((await processAnnotationRecords(env.deps, [r])).failures.length).toBe(1);
    const failures = await env.db.doc.send(
      new QueryCommand({ TableName: env.db.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': FAILURE_PK } }),
    );
    expect(failures.Items?.map((i) => i.annotationId)).toEqual(expect.arrayContaining([a.id, b.id]));
    const [ra, rb] = recs;
    const seqA = ra.dynamodb!.SequenceNumber!;
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: onFailure(tap.arn, tap.shardOf.get(seqA)!, seqA, seqA, 1) }));
    // b's message names a shard the stream no longer has (records past the 24 h retention).
    const seqB = rb.dynamodb!.SequenceNumber!;
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: onFailure(tap.arn, 'shardId-00000000000000000000-trimmed', seqB, seqB, 1) }));

    await fixEndpoint(target, c.s3.s3_endpoint as string);
    const r = await replaySqsDlq({ deps: env.deps, sqs, queueUrl, streams: tap.streams, only: (f) => mine.has(f.projectId) });
    expect(r).toMatchObject({ messages: 2, replayed: 1, expired: 1, failed: 0 });
    expect(r.sweep.failed).toBe(0);
    expect(JSON.parse((await s3Object(target, `out/${a.id}`))!)).toMatchObject({ id: a.id });
    expect(JSON.parse((await s3Object(target, `out/${b.id}`))!)).toMatchObject({ id: b.id });
    expect(await queued()).toBe(0);
    const left = await env.db.doc.send(
      new QueryCommand({ TableName: env.db.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': FAILURE_PK } }),
    );
    expect(left.Items?.filter((i) => i.annotationId === a.id || i.annotationId === b.id)).toEqual([]);
  }, 60_000);

  it('the scheduled replay measures the queue depth as the ExportDlqDepth metric', async () => {
    const emitted: Parameters<Parameters<typeof setMetricsSink>[0] & object>[0][] = [];
    setMetricsSink((emf) => emitted.push(emf));
    try {
      const before = await measureDlqDepth(sqs, queueUrl);
      for (const body of ['{"a":1}', '{"b":2}']) await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
      expect(await measureDlqDepth(sqs, queueUrl)).toBe(before + 2);
      publishMetrics(false);
      const depths = emitted.map(metricValues).map((v) => v[METRIC.dlqDepth]).flat();
      expect(depths).toContain(before + 2);
    } finally {
      setMetricsSink(undefined);
    }
  });
});
