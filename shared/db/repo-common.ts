/**
 * Shared plumbing of the repositories: the `Db` handle (client + table) they all take, bounded
 * batch writes, key stripping and opaque cursors. No table scans anywhere in the repositories.
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type TransactWriteCommandInput,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../errors';

/** What every repository function needs: the document client and the table name. */
export interface Db {
  doc: DynamoDBDocumentClient;
  table: string;
}

/** Attributes that exist only for the key schema; stripped before items leave a repository. */
const KEY_ATTRS = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'ttl'];

/** Removes key attributes from a stored item. */
export function stripKeys<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (!item) return undefined;
  const out: Record<string, unknown> = { ...item };
  for (const k of KEY_ATTRS) delete out[k];
  return out as T;
}

/** True for a failed ConditionExpression (single write). */
export function isConditionalFailure(e: unknown): boolean {
  return (e as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/** True for a transaction cancelled by a failed condition. */
export function isTransactionConditionFailure(e: unknown): boolean {
  const err = e as { name?: string; CancellationReasons?: { Code?: string }[] };
  return err?.name === 'TransactionCanceledException' &&
    (err.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Throttling errors DynamoDB answers (the SDK retries them first; these are what is left after its attempts). */
const THROTTLE_ERRORS = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);
/** Cancellation reasons that say "try again later", not "your condition failed". */
const TRANSIENT_CANCEL_CODES = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);

/**
 * True for a refusal that a later retry can overcome: a throttle, a plain write refused while a
 * transaction holds the item (TransactionConflictException: the SDK does not retry it), or a
 * transaction cancelled only for conflicts or throttling (no ConditionalCheckFailed).
 */
export function isContention(e: unknown): boolean {
  const err = e as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (err?.name === 'TransactionConflictException' || THROTTLE_ERRORS.has(String(err?.name))) return true;
  const codes = (err?.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
  return err?.name === 'TransactionCanceledException' && codes.some((c) => TRANSIENT_CANCEL_CODES.has(c)) && codes.every((c) => c === 'None' || TRANSIENT_CANCEL_CODES.has(c));
}

/**
 * Attempts of a write retried on contention ({@link retryContention}). With the backoff below a
 * write waits ~1.5 s in all, ~2.3 s at most (plus the SDK's own throttling retries inside each
 * attempt), before the error surfaces to its step.
 */
export const CONTENTION_ATTEMPTS = 6;

/**
 * Attempts of a write on a hot counter item (a task's annotation counters, a project's totals):
 * every annotation write of a task shares its task and project items, so N concurrent writers
 * each need one free moment on the same items; a refused attempt wrote nothing, so retrying is
 * safe. ~5.5 s in all, ~8.3 s at most, within the API functions' 29 s.
 */
export const COUNTER_ATTEMPTS = 10;

/** Jittered exponential delay before retry `attempt` (1-based): 25 ms·2^n, capped at `capMs`, times 0.5–1.5. */
export function backoffMs(attempt: number, capMs = 1_000): number {
  return Math.min(capMs, 25 * 2 ** attempt) * (0.5 + Math.random());
}

/**
 * Runs `write`, retrying with bounded, jittered backoff while DynamoDB refuses it for contention
 * ({@link isContention}); any other error, or the last refusal, is thrown.
 */
export async function retryContention<T>(write: () => Promise<T>, maxAttempts = CONTENTION_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (e) {
      if (!isContention(e) || attempt >= maxAttempts) throw e;
      await sleep(backoffMs(attempt));
    }
  }
}

/**
 * Runs a TransactWriteItems call, retrying (bounded, jittered backoff) when DynamoDB cancels it for
 * a conflict with a concurrent write on the same items (e.g. two annotations of one task) or for
 * throttling.
 */
export async function transactWrite(db: Db, input: TransactWriteCommandInput, maxAttempts = CONTENTION_ATTEMPTS): Promise<void> {
  await retryContention(() => db.doc.send(new TransactWriteCommand(input)), maxAttempts);
}

/**
 * Attempts per batch of {@link batchWrite} / {@link batchGet}: a call returning unprocessed items or
 * refused for contention is tried again after a jittered delay (50 ms·2^n, capped at 2 s: ~7 s in
 * all, ~11 s at most). When the budget is exhausted the error surfaces (a sync chunk fails and the
 * state machine retries the chunk, which is idempotent).
 */
export const BATCH_ATTEMPTS = 8;

/** One batch call, retried until nothing is left unprocessed (bounded by BATCH_ATTEMPTS). */
async function untilProcessed<P>(what: string, first: P[], call: (pending: P[]) => Promise<P[]>, maxAttempts: number): Promise<void> {
  let pending = first;
  for (let attempt = 1; pending.length; attempt++) {
    let refusal: unknown;
    try {
      pending = await call(pending);
    } catch (e) {
      if (!isContention(e)) throw e;
      refusal = e;
    }
    if (!pending.length) return;
    if (attempt >= maxAttempts) {
      if (refusal) throw refusal;
      throw new Error(`${what} left ${pending.length} unprocessed after ${attempt} attempts`);
    }
    await sleep(backoffMs(attempt + 1, 2_000));
  }
}

/**
 * Writes put/delete requests in BatchWriteItem calls of 25, retrying UnprocessedItems and
 * contention refusals at most `maxAttempts` times per batch (default {@link BATCH_ATTEMPTS}).
 * @throws Error when items stay unprocessed after the last attempt (or the last refusal)
 */
export async function batchWrite(
  db: Db,
  requests: ({ PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, unknown> } })[],
  opts: { maxAttempts?: number; concurrency?: number } = {},
): Promise<void> {
  const maxAttempts = opts.maxAttempts ?? BATCH_ATTEMPTS;
  const batches: (typeof requests)[] = [];
  for (let i = 0; i < requests.length; i += 25) batches.push(requests.slice(i, i + 25));
  const one = (batch: typeof requests) =>
    untilProcessed('BatchWriteItem', batch, async (pending) => {
      const res = await db.doc.send(new BatchWriteCommand({ RequestItems: { [db.table]: pending } }));
      return (res.UnprocessedItems?.[db.table] ?? []) as typeof requests;
    }, maxAttempts);
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, batches.length) }, async () => {
      while (next < batches.length) await one(batches[next++]);
    }),
  );
}

/**
 * Reads items by key with BatchGetItem in groups of 100, retrying UnprocessedKeys and throttling
 * at most `maxAttempts` times per group (default {@link BATCH_ATTEMPTS}, as batchWrite), and hands
 * every item found to `onItem`; keys with no item are simply not reported.
 * @throws Error when keys stay unprocessed after the last attempt
 */
export async function batchGet(
  db: Db,
  keys: Record<string, unknown>[],
  onItem: (it: Record<string, unknown>) => void,
  opts: { consistent?: boolean; maxAttempts?: number } = {},
): Promise<void> {
  const maxAttempts = opts.maxAttempts ?? BATCH_ATTEMPTS;
  for (let i = 0; i < keys.length; i += 100) {
    await untilProcessed('BatchGetItem', keys.slice(i, i + 100), async (pending) => {
      const res = await db.doc.send(new BatchGetCommand({ RequestItems: { [db.table]: { Keys: pending, ...(opts.consistent ? { ConsistentRead: true } : {}) } } }));
      for (const it of res.Responses?.[db.table] ?? []) onItem(it);
      return (res.UnprocessedKeys?.[db.table]?.Keys ?? []) as Record<string, unknown>[];
    }, maxAttempts);
  }
}

/** Encodes a cursor object as an opaque URL-safe token (base64url of its JSON): the one cursor codec. */
export function encodeCursor(value: object): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** The object inside a token made by {@link encodeCursor}, or undefined for anything else. */
export function parseCursor(token: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* not a cursor */
  }
  return undefined;
}

/**
 * Decodes a token made by `encodeCursor`.
 * @throws ValidationError (field `cursor`) for anything else
 */
export function decodeCursor(token: string, field = 'cursor'): Record<string, unknown> {
  const v = parseCursor(token);
  if (v) return v;
  throw ValidationError.field(field, 'Invalid cursor.');
}

/** One page of a Query: its items and (for `Select: 'COUNT'`) its count. */
export interface QueryPage {
  items: Record<string, unknown>[];
  count: number;
}

/**
 * The pages of a Query, lazily: the next page is read only when the consumer asks for it, so a
 * consumer that stops early reads no further. `limit` is each call's `Limit` (a function is asked
 * before every call; undefined = no limit). Empty pages are yielded too.
 */
export async function* queryPages(
  db: Db,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>,
  limit?: number | (() => number),
): AsyncGenerator<QueryPage> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const Limit = typeof limit === 'function' ? limit() : limit;
    const res = await db.doc.send(new QueryCommand({ TableName: db.table, ...input, ExclusiveStartKey: startKey, ...(Limit !== undefined ? { Limit } : {}) }));
    yield { items: res.Items ?? [], count: res.Count ?? 0 };
    startKey = res.LastEvaluatedKey;
  } while (startKey);
}

/**
 * Runs every page of a Query (1,000 items a page) and hands each item to `onItem`. For item
 * collections known to be small or consumed as they stream; never for a whole project.
 */
export async function queryAll(db: Db, input: Omit<QueryCommandInput, 'TableName'>, onItem: (it: Record<string, unknown>) => void): Promise<void> {
  for await (const page of queryPages(db, input, 1000)) page.items.forEach(onItem);
}

/** Deletes every item of one partition key (paginated Query of the keys, batched deletes); returns how many. */
export async function deletePartition(db: Db, pk: string): Promise<number> {
  let n = 0;
  for await (const { items } of queryPages(db, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ProjectionExpression: 'pk, sk' }, 1000)) {
    await batchWrite(db, items.map((it) => ({ DeleteRequest: { Key: { pk: it.pk, sk: it.sk } } })));
    n += items.length;
  }
  return n;
}

/**
 * Runs a conditional UpdateItem; false when its condition failed (nothing was written). Retried
 * ({@link retryContention}, `maxAttempts`) while a transaction holds the item: DynamoDB refuses a
 * plain write then with TransactionConflictException, which the SDK does not retry.
 */
export async function updateIf(db: Db, input: Omit<UpdateCommandInput, 'TableName'>, maxAttempts = CONTENTION_ATTEMPTS): Promise<boolean> {
  try {
    await retryContention(() => db.doc.send(new UpdateCommand({ TableName: db.table, ...input })), maxAttempts);
    return true;
  } catch (e) {
    if (isConditionalFailure(e)) return false;
    throw e;
  }
}

/**
 * Runs a conditional UpdateItem returning the new item without its key attributes, or undefined
 * when the condition failed (item missing, or the caller's extra condition). Retried on
 * contention as {@link updateIf}.
 */
export async function updateReturning<T>(db: Db, input: Omit<UpdateCommandInput, 'TableName' | 'ReturnValues'>): Promise<T | undefined> {
  try {
    const res = await retryContention(() => db.doc.send(new UpdateCommand({ TableName: db.table, ...input, ReturnValues: 'ALL_NEW' })));
    return stripKeys<T>(res.Attributes);
  } catch (e) {
    if (isConditionalFailure(e)) return undefined;
    throw e;
  }
}

/**
 * Builds one UpdateItem's SET/ADD/REMOVE and condition parts with generated placeholders (`#n0`,
 * `:v1`, …), so callers never collide on names. The condition starts with `attribute_exists(pk)`:
 * an update never creates an item.
 */
export class UpdateExpression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  readonly sets: string[] = [];
  readonly removes: string[] = [];
  /** `path :n` pairs of the ADD clause (atomic increments: no read-modify-write). */
  readonly adds: string[] = [];
  readonly conds: string[] = ['attribute_exists(pk)'];
  private i = 0;

  /** A placeholder for the attribute name `n`. */
  name(n: string): string {
    const p = `#n${this.i++}`;
    this.names[p] = n;
    return p;
  }

  /** A placeholder for the value `v`. */
  value(v: unknown): string {
    const p = `:v${this.i++}`;
    this.values[p] = v;
    return p;
  }

  /** Placeholders for `vs`, comma-separated (for `IN (…)`). */
  list(vs: unknown[]): string {
    return vs.map((v) => this.value(v)).join(', ');
  }

  /** The expression parts of an UpdateCommand input. */
  input(): Pick<UpdateCommandInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
    const update = [
      this.sets.length ? `SET ${this.sets.join(', ')}` : '',
      this.adds.length ? `ADD ${this.adds.join(', ')}` : '',
      this.removes.length ? `REMOVE ${this.removes.join(', ')}` : '',
    ].filter(Boolean).join(' ');
    return {
      UpdateExpression: update,
      ConditionExpression: this.conds.join(' AND '),
      ExpressionAttributeNames: this.names,
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

/**
 * Sets the defined fields of `patch` (and `updated_at`) on an existing item. Returns the new item
 * without its key attributes, or undefined when no item has that key (nothing is created).
 */
export async function setFields<T>(db: Db, key: { pk: string; sk: string }, patch: Record<string, unknown>): Promise<T | undefined> {
  const x = new UpdateExpression();
  x.sets.push(`${x.name('updated_at')} = ${x.value(new Date().toISOString())}`);
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) x.sets.push(`${x.name(k)} = ${x.value(v)}`);
  return updateReturning<T>(db, { Key: key, ...x.input() });
}
