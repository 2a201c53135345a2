/**
 * AWS-strict DynamoDB: SDK middleware on the real document client that makes DynamoDB Local behave
 * as DynamoDB does under contention and load (installed by createDocumentClient when the app runs
 * with LABELSYNC_AWS_STRICT). Every request still reaches the table; the middleware only refuses
 * some of them first, with the errors DynamoDB gives:
 *
 * - Transaction conflicts. While a TransactWriteItems is in flight its items (table + key) are
 *   locked. A transaction naming an item held by another transaction (a TransactGetItems only by a
 *   writing one) or by a plain write in flight is cancelled: TransactionCanceledException whose
 *   CancellationReasons say `TransactionConflict` for that item. A PutItem / UpdateItem /
 *   DeleteItem / BatchWriteItem naming an item a write transaction holds fails with
 *   TransactionConflictException, which the SDK does not retry. Reads never conflict.
 * - Throttling at `throttleRate` (0..1) per attempt: ProvisionedThroughputExceededException (the
 *   SDK retries it), for a transaction a cancellation with reason `ThrottlingError` (not retried
 *   by the SDK); a BatchWriteItem / BatchGetItem of several items writes or reads only its first
 *   half and returns the rest in UnprocessedItems / UnprocessedKeys.
 *
 * DynamoDB Local serialises requests and never reports a conflict, and its transactions finish in
 * a few milliseconds, so overlaps are rare even under heavy concurrency: `holdMs` keeps a
 * transaction's locks (and its caller waiting) that much longer, to make overlaps observable.
 */
import { ProvisionedThroughputExceededException, TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_SCHEMA } from './schema';

export interface StrictDbOptions {
  /** Probability (0..1) that one attempt of a call is throttled or a batch is half processed. */
  throttleRate: number;
  /** Extra milliseconds a transaction keeps its items locked. */
  holdMs: number;
  /**
   * Most consecutive attempts of one call that are throttled (default 4: the fifth attempt the
   * client makes, SDK_MAX_ATTEMPTS, gets through). A storm the SDK's retries absorb; a transaction's
   * throttle (a cancellation) is not retried by the SDK, so the repositories' retries meet it anyway.
   */
  maxThrottlesPerCall?: number;
  /** Source of randomness (tests pass a deterministic one). */
  random?: () => number;
}

/** What the middleware did so far (tests assert that it really interfered). */
export interface StrictDbStats {
  throttled: number;
  unprocessed: number;
  /** Plain writes refused with TransactionConflictException. */
  conflicts: number;
  /** Transactions cancelled for a conflict. */
  cancelled: number;
  /** Transactions holding their locks right now. */
  holding: number;
}

type Item = Record<string, unknown>;
type LockMode = 'txWrite' | 'txRead' | 'plain';

/** The items one call names, as lock keys, and how it holds them. */
interface CallItems {
  command: string;
  mode?: LockMode;
  /** One entry per item (a transaction's in TransactItems order). */
  keys: string[];
}

const TX_COMMANDS: Record<string, LockMode> = { TransactWriteItems: 'txWrite', TransactGetItems: 'txRead' };
const PLAIN_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

const lockKey = (table: unknown, item: Item | undefined) =>
  `${String(table)}\u0000${String(item?.[TABLE_SCHEMA.partitionKey])}\u0000${String(item?.[TABLE_SCHEMA.sortKey])}`;

/** The items of a document-client input (unmarshalled: the middleware runs outside DocumentMarshall). */
function callItems(command: string, input: Item): CallItems {
  const keys: string[] = [];
  if (input.TransactItems) {
    for (const t of input.TransactItems as Record<string, { TableName?: string; Item?: Item; Key?: Item }>[]) {
      const op = Object.values(t)[0];
      keys.push(lockKey(op?.TableName, op?.Item ?? op?.Key));
    }
  } else if (input.RequestItems && command === 'BatchWriteItem') {
    for (const [table, reqs] of Object.entries(input.RequestItems as Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]>)) {
      for (const r of reqs) keys.push(lockKey(table, r.PutRequest?.Item ?? r.DeleteRequest?.Key));
    }
  } else if (PLAIN_WRITES.has(command)) {
    keys.push(lockKey(input.TableName, (input.Item ?? input.Key) as Item));
  }
  return { command, keys, mode: TX_COMMANDS[command] ?? (PLAIN_WRITES.has(command) ? 'plain' : undefined) };
}

/** Items held by calls in flight, by mode (counts: several plain writes may hold one item). */
class ItemLocks {
  private held: Record<LockMode, Map<string, number>> = { txWrite: new Map(), txRead: new Map(), plain: new Map() };

  private has(mode: LockMode, key: string): boolean {
    return (this.held[mode].get(key) ?? 0) > 0;
  }

  /** Per key of `call`: whether another call in flight conflicts with it. */
  conflicts(call: CallItems): boolean[] {
    return call.keys.map((k) => {
      if (call.mode === 'plain') return this.has('txWrite', k);
      if (call.mode === 'txRead') return this.has('txWrite', k) || this.has('plain', k);
      return this.has('txWrite', k) || this.has('txRead', k) || this.has('plain', k);
    });
  }

  acquire(call: CallItems): void {
    for (const k of call.keys) this.held[call.mode!].set(k, (this.held[call.mode!].get(k) ?? 0) + 1);
  }

  release(call: CallItems): void {
    for (const k of call.keys) {
      const n = (this.held[call.mode!].get(k) ?? 1) - 1;
      if (n > 0) this.held[call.mode!].set(k, n);
      else this.held[call.mode!].delete(k);
    }
  }
}

const meta = { httpStatusCode: 400 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cancelled(reasons: ('TransactionConflict' | 'ThrottlingError' | 'None')[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.join(', ')}]`,
    $metadata: meta,
    CancellationReasons: reasons.map((Code) => ({ Code, ...(Code === 'None' ? {} : { Message: Code === 'TransactionConflict' ? 'Transaction is ongoing for the item' : 'Throughput exceeds the current capacity for one or more global secondary indexes' }) })),
  });
}

/** The refusal of one attempt of `call`, or undefined to let it through (then its locks are taken). */
function refusal(call: CallItems, locks: ItemLocks, throttle: boolean, stats: StrictDbStats): Error | undefined {
  if (throttle) {
    stats.throttled++;
    if (call.mode === 'txWrite' || call.mode === 'txRead') return cancelled(call.keys.map((_, i) => (i === 0 ? 'ThrottlingError' : 'None')));
    return new ProvisionedThroughputExceededException({ message: 'The level of configured provisioned throughput for the table was exceeded (AWS-strict throttling)', $metadata: meta });
  }
  if (!call.mode) return undefined;
  const hit = locks.conflicts(call);
  if (!hit.some(Boolean)) return undefined;
  if (call.mode === 'plain') {
    stats.conflicts++;
    return new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata: meta });
  }
  stats.cancelled++;
  return cancelled(hit.map((h) => (h ? 'TransactionConflict' : 'None')));
}

/** Serves a multi-item batch half: the rest comes back unprocessed, as from a hot partition. */
async function halfBatch(command: string, input: Item, send: (input: Item) => Promise<{ output: unknown }>): Promise<{ output: unknown } | undefined> {
  const [table, group] = Object.entries(input.RequestItems as Record<string, unknown>)[0] ?? [];
  const all = (command === 'BatchWriteItem' ? group : (group as { Keys?: unknown[] })?.Keys) as unknown[] | undefined;
  if (!all || all.length < 2 || Object.keys(input.RequestItems as object).length !== 1) return undefined;
  const half = Math.ceil(all.length / 2);
  const rest = all.slice(half);
  if (command === 'BatchWriteItem') {
    const out = await send({ ...input, RequestItems: { [table]: all.slice(0, half) } });
    const o = out.output as { UnprocessedItems?: Record<string, unknown[]> };
    o.UnprocessedItems = { ...o.UnprocessedItems, [table]: [...(o.UnprocessedItems?.[table] ?? []), ...rest] };
    return out;
  }
  const out = await send({ ...input, RequestItems: { [table]: { ...(group as object), Keys: all.slice(0, half) } } });
  const o = out.output as { UnprocessedKeys?: Record<string, { Keys?: unknown[] }> };
  const earlier = o.UnprocessedKeys?.[table]?.Keys ?? [];
  o.UnprocessedKeys = { ...o.UnprocessedKeys, [table]: { ...(group as object), Keys: [...earlier, ...rest] } };
  return out;
}

interface StrictContext {
  commandName?: string;
  labelsyncStrictCall?: CallItems;
  /** Attempts of this call throttled so far. */
  labelsyncThrottled?: number;
}

/**
 * Installs the AWS-strict middleware on `doc` (its client's stack: every command sent through it).
 * Returns live counters of what it injected.
 */
export function installStrictMiddleware(doc: DynamoDBDocumentClient, opts: StrictDbOptions): StrictDbStats {
  const random = opts.random ?? Math.random;
  const rate = Math.min(1, Math.max(0, opts.throttleRate));
  const stats: StrictDbStats = { throttled: 0, unprocessed: 0, conflicts: 0, cancelled: 0, holding: 0 };
  const locks = new ItemLocks();
  const maxThrottles = opts.maxThrottlesPerCall ?? 4;
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const c = context as StrictContext;
      const command = String(c.commandName ?? '').replace(/Command$/, '');
      const input = args.input as Item;
      if ((command === 'BatchWriteItem' || command === 'BatchGetItem') && rate > 0 && random() < rate) {
        const out = await halfBatch(command, input, (i) => {
          c.labelsyncStrictCall = callItems(command, i);
          return next({ ...args, input: i });
        });
        if (out) {
          stats.unprocessed++;
          return out as Awaited<ReturnType<typeof next>>;
        }
      }
      c.labelsyncStrictCall = callItems(command, input);
      return next(args);
    },
    // Outside the command's DocumentMarshall: plain JavaScript inputs and outputs.
    { step: 'initialize', name: 'labelsyncStrictItems', priority: 'high' },
  );
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const c = context as StrictContext;
      const call = c.labelsyncStrictCall;
      if (!call) return next(args);
      const throttle = rate > 0 && (c.labelsyncThrottled ?? 0) < maxThrottles && random() < rate;
      if (throttle) c.labelsyncThrottled = (c.labelsyncThrottled ?? 0) + 1;
      const refused = refusal(call, locks, throttle, stats);
      if (refused) throw refused;
      if (!call.mode) return next(args);
      locks.acquire(call);
      const tx = call.mode !== 'plain';
      if (tx) stats.holding++;
      try {
        const out = await next(args);
        if (tx && opts.holdMs > 0) await sleep(opts.holdMs);
        return out;
      } finally {
        locks.release(call);
        if (tx) stats.holding--;
      }
    },
    // Inside the SDK's retry loop (finalizeRequest, after the retry middleware): once per attempt.
    { step: 'finalizeRequest', name: 'labelsyncStrictAttempt', priority: 'low' },
  );
  return stats;
}
