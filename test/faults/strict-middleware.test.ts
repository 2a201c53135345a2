/**
 * The AWS-strict DynamoDB middleware (shared/db/strict-middleware.ts) on a real client against
 * DynamoDB Local: which overlaps it refuses and how, what passes, and the throttling it injects.
 * Overlaps are forced by holding a transaction's locks (`holdMs`) while the second call is sent.
 * Also: completeChunk under such a conflict still counts its chunk (it used to take any
 * cancellation for "already done").
 */
import { GetCommand, PutCommand, TransactGetCommand, TransactWriteCommand, UpdateCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { createDocumentClient } from '../../shared/db/client';
import { completeChunk, putChunks } from '../../shared/db/repo-chunks';
import { createJob, getJob } from '../../shared/db/repo-jobs';
import { installStrictMiddleware, type StrictDbOptions, type StrictDbStats } from '../../shared/db/strict-middleware';
import type { Db } from '../../shared/db/repo-common';

const em = inject('emulators');
const table = inject('tableName');
const run = `strict-${Date.now()}`;

function strictDb(opts: Partial<StrictDbOptions> = {}): { db: Db; stats: StrictDbStats } {
  const doc = createDocumentClient({ endpoint: em.dynamodb.endpoint, region: em.dynamodb.region });
  const stats = installStrictMiddleware(doc, { throttleRate: 0, holdMs: 0, ...opts });
  return { db: { doc, table }, stats };
}

const key = (name: string) => ({ pk: `${run}#${name}`, sk: 'X' });
const put = (name: string) => ({ Put: { TableName: table, Item: { ...key(name), kind: 'strict-test', n: 0 } } });
const bump = (name: string) => new UpdateCommand({ TableName: table, Key: key(name), UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } });

/** Starts `first`, waits until it holds its locks, then runs `second` while it still does. */
async function during<T>(stats: StrictDbStats, first: Promise<unknown>, second: () => Promise<T>): Promise<{ second: PromiseSettledResult<T>; first: PromiseSettledResult<unknown> }> {
  const deadline = Date.now() + 5_000;
  while (stats.holding === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  expect(stats.holding, 'the first transaction holds its locks').toBeGreaterThan(0);
  const [s] = await Promise.allSettled([second()]);
  const [f] = await Promise.allSettled([first]);
  return { second: s, first: f };
}

const errorOf = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? (r.reason as { name?: string; CancellationReasons?: { Code?: string }[]; $metadata?: { attempts?: number } }) : undefined);

describe('AWS-strict DynamoDB: transaction conflicts', () => {
  it('a plain write (UpdateItem, PutItem, BatchWriteItem) on an item a transaction holds fails with TransactionConflictException', async () => {
    const { db, stats } = strictDb({ holdMs: 400 });
    const first = db.doc.send(new TransactWriteCommand({ TransactItems: [put('a1'), put('a2')] }));
    const r = await during(stats, first, () =>
      Promise.allSettled([
        db.doc.send(bump('a1')),
        db.doc.send(new PutCommand({ TableName: table, Item: { ...key('a2'), kind: 'strict-test' } })),
        db.doc.send(new BatchWriteCommand({ RequestItems: { [table]: [{ PutRequest: { Item: { ...key('free'), kind: 'strict-test' } } }, { DeleteRequest: { Key: key('a2') } }] } })),
      ]),
    );
    expect(r.first.status).toBe('fulfilled');
    const results = (r.second as PromiseFulfilledResult<PromiseSettledResult<unknown>[]>).value;
    for (const res of results) {
      expect(errorOf(res)?.name).toBe('TransactionConflictException');
      // Not retried by the SDK, as DynamoDB's own.
      expect(errorOf(res)?.$metadata?.attempts).toBe(1);
    }
    expect(stats.conflicts).toBe(3);
    // The refused writes did not reach the table; the transaction's did.
    expect((await db.doc.send(new GetCommand({ TableName: table, Key: key('a1'), ConsistentRead: true }))).Item?.n).toBe(0);
    expect((await db.doc.send(new GetCommand({ TableName: table, Key: key('free'), ConsistentRead: true }))).Item).toBeUndefined();
  });

  it('a transaction overlapping another one is cancelled with TransactionConflict for the shared item only', async () => {
    const { db, stats } = strictDb({ holdMs: 400 });
    const first = db.doc.send(new TransactWriteCommand({ TransactItems: [put('b1'), put('b2')] }));
    const r = await during(stats, first, () => db.doc.send(new TransactWriteCommand({ TransactItems: [put('b3'), put('b2')] })));
    expect(r.first.status).toBe('fulfilled');
    expect(errorOf(r.second)?.name).toBe('TransactionCanceledException');
    expect(errorOf(r.second)?.CancellationReasons?.map((c) => c.Code)).toEqual(['None', 'TransactionConflict']);
    expect(stats.cancelled).toBe(1);
    expect((await db.doc.send(new GetCommand({ TableName: table, Key: key('b3'), ConsistentRead: true }))).Item, 'a cancelled transaction writes nothing').toBeUndefined();
  });

  it('a TransactGetItems on an item a write transaction holds is cancelled; plain reads pass', async () => {
    const { db, stats } = strictDb({ holdMs: 400 });
    await db.doc.send(new TransactWriteCommand({ TransactItems: [put('c1')] }));
    const first = db.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: { TableName: table, Key: key('c1'), UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } } }] }));
    const r = await during(stats, first, () =>
      Promise.allSettled([
        db.doc.send(new TransactGetCommand({ TransactItems: [{ Get: { TableName: table, Key: key('c1') } }] })),
        db.doc.send(new GetCommand({ TableName: table, Key: key('c1'), ConsistentRead: true })),
      ]),
    );
    const [tget, get] = (r.second as PromiseFulfilledResult<PromiseSettledResult<unknown>[]>).value;
    expect(errorOf(tget)?.CancellationReasons?.map((c) => c.Code)).toEqual(['TransactionConflict']);
    expect(get.status).toBe('fulfilled');
  });

  it('calls on other items pass while a transaction holds its own, and its items are free once it answered', async () => {
    const { db, stats } = strictDb({ holdMs: 300 });
    const first = db.doc.send(new TransactWriteCommand({ TransactItems: [put('d1')] }));
    const r = await during(stats, first, () =>
      Promise.all([db.doc.send(new TransactWriteCommand({ TransactItems: [put('d2')] })), db.doc.send(new PutCommand({ TableName: table, Item: { ...key('d3'), kind: 'strict-test' } }))]),
    );
    expect(r.second.status).toBe('fulfilled');
    expect(r.first.status).toBe('fulfilled');
    await db.doc.send(bump('d1'));
    await db.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: { TableName: table, Key: key('d1'), UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } } }] }));
    expect((await db.doc.send(new GetCommand({ TableName: table, Key: key('d1'), ConsistentRead: true }))).Item?.n).toBe(2);
    expect(stats).toMatchObject({ conflicts: 0, cancelled: 0, holding: 0 });
  });
});

describe('AWS-strict DynamoDB: throttling', () => {
  /** Randomness that answers `values` in order, then 1 (never below a rate). */
  const scripted = (...values: number[]) => () => values.shift() ?? 1;

  it('a throttled attempt fails with ProvisionedThroughputExceeded and the SDK retries it', async () => {
    const { db, stats } = strictDb({ throttleRate: 0.5, random: scripted(0) });
    await db.doc.send(new PutCommand({ TableName: table, Item: { ...key('t1'), kind: 'strict-test' } }));
    const res = await db.doc.send(new GetCommand({ TableName: table, Key: key('t1'), ConsistentRead: true }));
    expect(res.Item).toBeDefined();
    expect(stats.throttled).toBe(1);
  });

  it('a throttled transaction is cancelled with ThrottlingError (not retried by the SDK)', async () => {
    const { db } = strictDb({ throttleRate: 0.5, random: scripted(0) });
    const err = await db.doc.send(new TransactWriteCommand({ TransactItems: [put('t2'), put('t3')] })).catch((e: unknown) => e as { name?: string; CancellationReasons?: { Code?: string }[]; $metadata?: { attempts?: number } });
    expect(err).toMatchObject({ name: 'TransactionCanceledException', $metadata: { attempts: 1 } });
    expect((err as { CancellationReasons: { Code: string }[] }).CancellationReasons.map((c) => c.Code)).toEqual(['ThrottlingError', 'None']);
  });

  it('a throttled batch writes its first half and returns the rest in UnprocessedItems', async () => {
    const { db, stats } = strictDb({ throttleRate: 0.5, random: scripted(0) });
    const names = ['u1', 'u2', 'u3', 'u4'];
    const res = await db.doc.send(new BatchWriteCommand({ RequestItems: { [table]: names.map((n) => ({ PutRequest: { Item: { ...key(n), kind: 'strict-test' } } })) } }));
    expect((res.UnprocessedItems?.[table] ?? []).map((r) => (r.PutRequest?.Item as { pk: string }).pk)).toEqual([`${run}#u3`, `${run}#u4`]);
    expect(stats.unprocessed).toBe(1);
    const stored = await Promise.all(names.map((n) => db.doc.send(new GetCommand({ TableName: table, Key: key(n), ConsistentRead: true }))));
    expect(stored.map((s) => Boolean(s.Item))).toEqual([true, true, false, false]);
  });
});

describe('completeChunk on the hot job item', () => {
  it('a completion cancelled by a conflict is retried and counted, not taken for "already done"', async () => {
    const { db, stats } = strictDb({ holdMs: 300 });
    const jobId = `${run}-job`;
    await createJob(db, { jobId, storageId: 1, role: 'import', ordered: true, sync_deletions: 'keep', trust_digests_of: null });
    await putChunks(db, [0, 1].map((n) => ({ jobId, n, entries: [], from: null, to: null, ordered: true })));
    const first = completeChunk(db, jobId, 0, { processed: 10, created: 10 });
    const r = await during(stats, first, () => completeChunk(db, jobId, 1, { processed: 7, created: 7 }));
    expect(stats.cancelled, 'the second completion met the first one on the job item').toBeGreaterThan(0);
    expect(r.first).toEqual({ status: 'fulfilled', value: true });
    expect(r.second).toEqual({ status: 'fulfilled', value: true });
    expect(await getJob(db, jobId)).toMatchObject({ processed: 17, created: 17 });
    // A chunk really done is still reported so, and adds nothing.
    expect(await completeChunk(db, jobId, 1, { processed: 7, created: 7 })).toBe(false);
    expect(await getJob(db, jobId)).toMatchObject({ processed: 17, created: 17 });
  });
});
