/**
 * A fault injector for DynamoDB — not a mock: every request still goes to DynamoDB Local, and an
 * SDK middleware on the document client used by the test makes some of them fail the way DynamoDB
 * fails under load:
 * - `throttle`: the call is answered with ProvisionedThroughputExceededException (before it
 *   reaches the table; the SDK's retry strategy sees a real throttling error);
 * - `unprocessed`: a BatchWriteItem writes only its first half; the rest comes back in
 *   `UnprocessedItems`, as DynamoDB does when a partition is hot;
 * - `kill`: the call fails with a non-retryable error after it succeeded, as if the process died
 *   right after the write (the caller sees a crash, the table holds the write).
 * The middleware sits at the client's `initialize` step, outside the document client's marshalling,
 * so it sees and returns plain JavaScript values.
 */
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../shared/db/client';

export type Fault = 'throttle' | 'unprocessed' | 'kill';

/** What a call is: its command (without `Command`), its input and the items it names. */
export interface DbCall {
  command: string;
  input: Record<string, unknown>;
  /** `kind` of every item the call writes (Put requests, Items of TransactWriteItems). */
  kinds: string[];
  /** `pk#sk` of every item the call reads, writes or deletes. */
  keys: string[];
}

/** Decides, per call, whether to inject a fault, from what the call is (never from its position). */
export type FaultPlan = (call: DbCall) => Fault | undefined;

type Item = Record<string, unknown>;
const keyOf = (item: Item | undefined) => (item && 'pk' in item ? `${String(item.pk)}#${String(item.sk)}` : undefined);

/** The items named by a document-client input: written items and keys, per request shape. */
function itemsOf(input: Record<string, unknown>): { written: Item[]; keys: Item[] } {
  const written: Item[] = [];
  const keys: Item[] = [];
  const take = (r: { Item?: Item; Key?: Item; Keys?: Item[] } | undefined) => {
    if (r?.Item) written.push(r.Item);
    if (r?.Key) keys.push(r.Key);
    if (r?.Keys) keys.push(...r.Keys);
  };
  take(input as { Item?: Item; Key?: Item });
  for (const group of Object.values((input.RequestItems ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(group)) for (const r of group as { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]) take(r.PutRequest ?? r.DeleteRequest);
    else take(group as { Keys?: Item[] });
  }
  for (const t of (input.TransactItems ?? []) as Record<string, { Item?: Item; Key?: Item }>[]) for (const op of Object.values(t)) take(op);
  return { written, keys: [...written, ...keys] };
}

/** Describes a call for a plan. */
export function describeCall(command: string, input: Record<string, unknown>): DbCall {
  const { written, keys } = itemsOf(input);
  return {
    command,
    input,
    kinds: written.map((i) => String(i.kind ?? '')),
    keys: keys.map(keyOf).filter((k): k is string => k !== undefined),
  };
}

/**
 * A gate the test controls: `pass()` lets a fault through while its budget lasts (a budget of 1
 * faults the first matching call only), then the gate stays closed.
 */
export class FaultGate {
  private left: number;
  constructor(budget: number) {
    this.left = budget;
  }
  /** True (and one unit of budget spent) if a fault may be injected now. */
  pass(): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }
}

/** A gate per distinct value (e.g. per command, per item key), each with the same budget. */
export function gatesBy(budget: number): (value: string) => FaultGate {
  const gates = new Map<string, FaultGate>();
  return (value) => {
    let g = gates.get(value);
    if (!g) gates.set(value, (g = new FaultGate(budget)));
    return g;
  };
}

export interface FaultyClient {
  doc: DynamoDBDocumentClient;
  /** Faults injected so far, by kind. */
  injected: Record<Fault, number>;
  /** Calls seen, by command name (information only: plans never see positions). */
  calls: Record<string, number>;
  setPlan(plan: FaultPlan | undefined): void;
}

export function faultyDocumentClient(opts: { endpoint: string; region: string }, plan?: FaultPlan): FaultyClient {
  const doc = createDocumentClient(opts);
  const state: FaultyClient = { doc, injected: { throttle: 0, unprocessed: 0, kill: 0 }, calls: {}, setPlan: (p) => (current = p) };
  let current = plan;
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String((context as { commandName?: string }).commandName ?? '').replace(/Command$/, '');
      state.calls[command] = (state.calls[command] ?? 0) + 1;
      const input = args.input as Record<string, unknown>;
      const fault = current?.(describeCall(command, input));
      // Marks this call (the context object is shared by every step of one send()).
      if (fault === 'throttle') (context as { labelsyncThrottle?: boolean }).labelsyncThrottle = true;
      if (fault === 'unprocessed' && command === 'BatchWriteItem') {
        const items = input.RequestItems as Record<string, unknown[]>;
        const [table, requests] = Object.entries(items)[0];
        if (requests.length > 1) {
          state.injected.unprocessed++;
          const half = Math.ceil(requests.length / 2);
          const out = await next({ ...args, input: { ...input, RequestItems: { [table]: requests.slice(0, half) } } });
          const output = out.output as { UnprocessedItems?: Record<string, unknown[]> };
          output.UnprocessedItems = { ...(output.UnprocessedItems ?? {}), [table]: [...(output.UnprocessedItems?.[table] ?? []), ...requests.slice(half)] };
          return out;
        }
      }
      const out = await next(args);
      if (fault === 'kill') {
        state.injected.kill++;
        throw Object.assign(new Error('Injected: process killed after this write'), { name: 'Lambda.ServiceException' });
      }
      return out;
    },
    // Client-level middleware at `initialize` runs outside the command's DocumentMarshall.
    { step: 'initialize', name: 'labelsyncFaultInjector', priority: 'high' },
  );
  // Throttling is answered inside the SDK's retry loop (the `deserialize` step runs per attempt),
  // where DynamoDB's own ProvisionedThroughputExceeded would surface: the first attempt of a
  // marked call fails, the SDK's retry strategy decides what happens next.
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const c = context as { labelsyncThrottle?: boolean };
      if (c.labelsyncThrottle) {
        c.labelsyncThrottle = false;
        state.injected.throttle++;
        throw new ProvisionedThroughputExceededException({ message: 'Injected: throughput exceeds the provisioned capacity', $metadata: { httpStatusCode: 400 } });
      }
      return next(args);
    },
    { step: 'deserialize', name: 'labelsyncThrottleInjector', priority: 'low' },
  );
  return state;
}
