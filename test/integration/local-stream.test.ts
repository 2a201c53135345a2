/**
 * The local event source mapping (local/stream-poller.ts) on DynamoDB Local's stream of the shared
 * test table: filter, batching, partial batch failures, bisection, bounded retries, the JSONL DLQ
 * and its replay, and resuming from the checkpoint. A recording handler stands in for the export
 * function (injected through the poller's options). Other test files write to the same table at
 * the same time, so the handler only judges records of this file (pk prefix) and accepts the rest.
 * Items here use their own kind (with the mapping's filter rule applied to that kind): real
 * `annotation` items without an annotation's fields would be poison records for the export
 * pollers other tests run on this table. The default filter itself is checked on records below
 * and end to end in local-e2e.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteCommand, DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient } from '../../shared/db/client';
import { LocalDlq, replayDlq } from '../../local/dlq';
import { isAnnotationRecord, StreamPoller } from '../../local/stream-poller';

const run = randomUUID().slice(0, 8);
const KIND = 'local_stream_test';
/** The mapping's rule (NewImage.kind or OldImage.kind) for this file's kind. */
const filter = (r: DynamoDBRecord) => r.dynamodb?.NewImage?.kind?.S === KIND || r.dynamodb?.OldImage?.kind?.S === KIND;
const PREFIX = `LOCALSTREAM#${run}#`;
let dir: string;
let dlq: LocalDlq;
const db = () => createDocumentClient({ endpoint: inject('emulators').dynamodb.endpoint, region: 'us-east-1' });

/** Behaviour of the recording handler, changed per test. */
let judge: (mine: DynamoDBRecord[], event: DynamoDBStreamEvent) => { batchItemFailures: { itemIdentifier: string }[] } | 'throw' = () => ({ batchItemFailures: [] });
const deliveries: { records: DynamoDBRecord[]; at: number }[] = [];

const pkOf = (r: DynamoDBRecord) => r.dynamodb?.Keys?.pk?.S ?? '';
const isMine = (r: DynamoDBRecord) => pkOf(r).startsWith(PREFIX);

async function handler(event: DynamoDBStreamEvent) {
  const mine = event.Records.filter(isMine);
  if (mine.length) deliveries.push({ records: mine, at: Date.now() });
  const verdict = judge(mine, event);
  if (verdict === 'throw') throw new Error('export target unavailable');
  return verdict;
}

function newPoller(startingPosition: 'LATEST' | 'TRIM_HORIZON' = 'LATEST') {
  return new StreamPoller({
    endpoint: inject('emulators').dynamodb.endpoint,
    region: 'us-east-1',
    tableName: inject('tableName'),
    handler,
    dlq,
    checkpointFile: join(dir, 'stream-checkpoint.json'),
    startingPosition,
    retryAttempts: 2,
    retryBaseMs: 20,
    filter,
    log: () => {},
  });
}

async function waitFor(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const annotation = (n: string) => ({ pk: `${PREFIX}${n}`, sk: 'ANNOTATION', kind: KIND, n });
const delivered = (pk: string) => deliveries.flatMap((d) => d.records).filter((r) => pkOf(r) === pk);

async function putAll(items: Record<string, unknown>[]): Promise<void> {
  const c = db();
  for (let i = 0; i < items.length; i += 25) {
    await c.send(new BatchWriteCommand({ RequestItems: { [inject('tableName')]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
}

let poller: StreamPoller;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'labelsync-local-stream-'));
  dlq = new LocalDlq(join(dir, 'export-dlq.jsonl'));
  poller = newPoller();
  await poller.start();
});
afterAll(async () => {
  await poller?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('local stream poller', () => {
  // How fast (≤ 2 s, saved → visible through this poller) is a bench target (bench/export.ts).
  it('delivers a saved item as a DynamoDB stream event', async () => {
    judge = () => ({ batchItemFailures: [] });
    await db().send(new PutCommand({ TableName: inject('tableName'), Item: annotation('latency') }));
    await waitFor(() => delivered(`${PREFIX}latency`).length > 0);
    const [rec] = delivered(`${PREFIX}latency`);
    expect(rec).toMatchObject({ eventName: 'INSERT', eventSource: 'aws:dynamodb' });
    expect(rec.dynamodb).toMatchObject({ StreamViewType: 'NEW_AND_OLD_IMAGES', Keys: { pk: { S: `${PREFIX}latency` }, sk: { S: 'ANNOTATION' } } });
    expect(rec.dynamodb?.NewImage?.kind).toEqual({ S: KIND });
    expect(typeof rec.dynamodb?.SequenceNumber).toBe('string');
  });

  it('matches the export mapping’s filter: annotation in the new image, or in the old image of a removal', () => {
    const rec = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', images: { NewImage?: object; OldImage?: object }): DynamoDBRecord => ({ eventName, dynamodb: images as never });
    expect(isAnnotationRecord(rec('INSERT', { NewImage: { kind: { S: 'annotation' } } }))).toBe(true);
    expect(isAnnotationRecord(rec('REMOVE', { OldImage: { kind: { S: 'annotation' } } }))).toBe(true);
    expect(isAnnotationRecord(rec('MODIFY', { NewImage: { kind: { S: 'task' } }, OldImage: { kind: { S: 'task' } } }))).toBe(false);
    expect(isAnnotationRecord(rec('INSERT', { NewImage: { kind: { S: 'annotations' } } }))).toBe(false);
  });

  it('passes only matching records (new or old image), in batches of at most 100', async () => {
    const items = Array.from({ length: 150 }, (_, i) => annotation(`bulk-${i}`));
    const others = Array.from({ length: 10 }, (_, i) => ({ pk: `${PREFIX}task-${i}`, sk: 'TASK', kind: 'task' }));
    await putAll([...items, ...others]);
    await db().send(new DeleteCommand({ TableName: inject('tableName'), Key: { pk: `${PREFIX}bulk-0`, sk: 'ANNOTATION' } }));
    await waitFor(() => items.every((it) => delivered(it.pk).length > 0) && delivered(`${PREFIX}bulk-0`).length === 2);
    const all = deliveries.flatMap((d) => d.records);
    expect(all.filter((r) => pkOf(r).includes('#task-'))).toHaveLength(0);
    expect(Math.max(...deliveries.map((d) => d.records.length))).toBeLessThanOrEqual(100);
    const removed = delivered(`${PREFIX}bulk-0`).find((r) => r.eventName === 'REMOVE');
    expect(removed?.dynamodb?.OldImage?.kind).toEqual({ S: KIND });
    expect(removed?.dynamodb?.NewImage).toBeUndefined();
  });

  it('retries a partially failed batch from the first reported record on', async () => {
    const items = Array.from({ length: 6 }, (_, i) => annotation(`partial-${i}`));
    let failedOnce = false;
    let firstBatch: string[] = [];
    let failedPk = '';
    judge = (mine) => {
      const ours = mine.filter((r) => pkOf(r).includes('#partial-'));
      if (!failedOnce && ours.length >= 3) {
        failedOnce = true;
        firstBatch = ours.map(pkOf);
        failedPk = firstBatch[2];
        return { batchItemFailures: [{ itemIdentifier: ours[2].dynamodb!.SequenceNumber! }] };
      }
      return { batchItemFailures: [] };
    };
    await putAll(items);
    await waitFor(() => failedOnce && items.every((it) => delivered(it.pk).length > 0) && delivered(failedPk).length === 2);
    // Records before the failure were done; the failed one and those after it came again, in order.
    expect(delivered(firstBatch[0])).toHaveLength(1);
    expect(delivered(firstBatch[1])).toHaveLength(1);
    for (const pk of firstBatch.slice(2)) expect(delivered(pk)).toHaveLength(2);
    const retry = deliveries.filter((d) => d.records.some((r) => pkOf(r) === failedPk))[1];
    expect(retry.records.filter((r) => pkOf(r).includes('#partial-')).map(pkOf)).toEqual(firstBatch.slice(2));
  });

  it('bisects a batch whose invocation throws, dead-letters the poison record after bounded retries, and replays it', async () => {
    const poison = `${PREFIX}poison`;
    judge = (mine) => (mine.some((r) => pkOf(r) === poison) ? 'throw' : { batchItemFailures: [] });
    const items = [annotation('healthy-0'), annotation('healthy-1'), annotation('poison'), annotation('healthy-2'), annotation('healthy-3')];
    const bisectionsBefore = poller.stats.bisections;
    await putAll(items);
    await waitFor(() => items.filter((i) => i.pk !== poison).every((i) => delivered(i.pk).length > 0) && poller.stats.deadLettered > 0, 20_000);
    expect(poller.stats.bisections).toBeGreaterThan(bisectionsBefore);
    const entries = [];
    for await (const e of dlq.entries()) entries.push(e);
    const entry = entries.find((e) => e.records.some((r) => pkOf(r) === poison))!;
    expect(entry).toMatchObject({ condition: 'RetryAttemptsExhausted', attempts: 2, batchSize: 1 });
    expect(entry.error).toContain('export target unavailable');
    expect(entry.records.map(pkOf)).toEqual([poison]);
    // 1 first try + 2 retries once bisected down to the record alone.
    expect(delivered(poison).length).toBeGreaterThanOrEqual(3);

    // The target is back: replay delivers the record and empties the DLQ.
    judge = () => ({ batchItemFailures: [] });
    const before = delivered(poison).length;
    const result = await replayDlq(dlq.file, async (event) => {
      const mine = event.Records.filter(isMine);
      if (mine.length) deliveries.push({ records: mine, at: Date.now() });
      return { batchItemFailures: [] };
    });
    expect(result.replayed).toBeGreaterThanOrEqual(1);
    expect(result.failed).toBe(0);
    expect(delivered(poison).length).toBe(before + 1);
    const left = await readFile(dlq.file, 'utf8').catch(() => '');
    expect(left).toBe('');
  });

  it('keeps entries that fail again during replay, trimmed to the undelivered records', async () => {
    const file = join(dir, 'replay-dlq.jsonl');
    const q = new LocalDlq(file);
    const rec = (n: string, seq: string): DynamoDBRecord => ({ eventName: 'INSERT', dynamodb: { Keys: { pk: { S: n } }, SequenceNumber: seq } });
    await q.append({ condition: 'RetryAttemptsExhausted', attempts: 5, streamArn: 's', shardId: 'sh', startSequenceNumber: '1', endSequenceNumber: '3', batchSize: 3, records: [rec('a', '1'), rec('b', '2'), rec('c', '3')] });
    const r = await replayDlq(file, async () => ({ batchItemFailures: [{ itemIdentifier: '2' }] }));
    expect(r).toEqual({ replayed: 0, failed: 1, records: 1 });
    const kept = [];
    for await (const e of q.entries()) kept.push(e);
    expect(kept).toHaveLength(1);
    expect(kept[0].records.map((x) => x.dynamodb?.SequenceNumber)).toEqual(['2', '3']);
    expect(kept[0]).toMatchObject({ condition: 'ReplayFailed', startSequenceNumber: '2', batchSize: 2 });
  });

  it('resumes after the checkpoint: records written while stopped are delivered on the next start', async () => {
    judge = () => ({ batchItemFailures: [] });
    await db().send(new PutCommand({ TableName: inject('tableName'), Item: annotation('before-stop') }));
    await waitFor(() => delivered(`${PREFIX}before-stop`).length > 0);
    await poller.drained();
    await poller.stop();
    await db().send(new PutCommand({ TableName: inject('tableName'), Item: annotation('while-stopped') }));
    poller = newPoller('LATEST'); // the checkpoint wins over LATEST for a known shard
    await poller.start();
    await waitFor(() => delivered(`${PREFIX}while-stopped`).length > 0);
    expect(delivered(`${PREFIX}before-stop`)).toHaveLength(1);
  });
});
