/**
 * Runs an Amazon States Language definition: Pass, Task, Choice, Parallel, Map (inline, and
 * DISTRIBUTED as child runs over `ItemsPath`), Wait, Succeed and Fail, with InputPath,
 * Parameters/ItemSelector, ResultSelector, ResultPath and OutputPath in Step Functions' order,
 * Retry (backoff, MaxDelaySeconds, full jitter) and Catch. Task states call `invokeTask`; what a
 * Task does is the caller's business (local/asl-runner.ts binds them to local Lambda handlers).
 *
 * Where Step Functions has a rule an emulator could skip, this follows Step Functions:
 * - `States.DataLimitExceeded` and `States.Runtime` are not matched by `States.ALL` (nor by
 *   `States.TaskFailed`), only by a Retry/Catch naming them;
 * - a Task result over the payload limit fails with `States.DataLimitExceeded`; with
 *   `payloadLimit.strict` a Task's input after Parameters and every state's output are checked too;
 * - a DISTRIBUTED Map's items are child executions: an item's failure, terminal or not, counts
 *   against ToleratedFailurePercentage/Count (failing the Map with
 *   `States.ExceedToleratedFailureThreshold` past it) and its result is the item's `{Error, Cause}`;
 * - a failing Parallel branch (or inline Map item) stops its siblings.
 * Not reproduced (refused by local/asl-runner.ts): ItemReader, ItemBatcher, ResultWriter, callback
 * and `.sync` integrations, JSONata.
 */
import { randomInt } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { evaluateRule, type ChoiceRule } from './choice';
import { errorMatches, errorOutput, ExecutionAbortedError, StatesError, TERMINAL_ERRORS } from './errors';
import { applyTemplate, readPath, selectPath, writeResult, type Json } from './paths';

export type { Json } from './paths';
export type State = Record<string, unknown> & { Type: string };
export interface StateMachineDefinition {
  StartAt: string;
  States: Record<string, unknown>;
  [k: string]: unknown;
}

export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}
interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

export interface StateEvent {
  type: 'StateEntered' | 'StateExited' | 'StateFailed' | 'StateRetried';
  state: string;
  output?: Json;
  error?: string;
  cause?: string;
}

export interface RunOptions {
  /** Runs one Task state: `input` is the state's effective input (after Parameters). */
  invokeTask(stateName: string, resource: string, input: Json, signal: AbortSignal): Promise<unknown>;
  /** `$$.Execution` and `$$.StateMachine` of the context object. */
  context: { Execution: Record<string, Json>; StateMachine: Record<string, Json> };
  signal?: AbortSignal;
  /** Replaces Retry intervals, in ms per state name (one figure, or one per retrier), e.g. in tests. */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Step Functions' payload size rule (see the file comment). */
  payloadLimit?: { bytes: number; strict: boolean };
  onEvent?(event: StateEvent): void;
}

const bytesOf = (v: unknown): number => Buffer.byteLength(v === undefined ? 'null' : JSON.stringify(v));

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ExecutionAbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ExecutionAbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  abortable(
    new Promise<void>((r) => {
      const onAbort = () => clearTimeout(t);
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        r();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    }),
    signal,
  );

/**
 * Every running Task, wait and Map item listens on its execution's signal until it settles, so a
 * Map of MaxConcurrency 40 holds 40 listeners at once: not a leak, and Node's warning at 11 would
 * be noise on every large sync.
 */
function unlimitedListeners(signal: AbortSignal): AbortSignal {
  setMaxListeners(0, signal);
  return signal;
}

/** One execution (or a Map item's child run: same options, its own context). */
class Run {
  constructor(
    private readonly opts: RunOptions,
    private readonly executionInput: Json,
    private readonly started: string,
  ) {}

  private context(stateName: string, retryCount: number, mapItem?: { Index: number; Value: Json }): Json {
    return {
      Execution: { ...this.opts.context.Execution, Input: this.executionInput, StartTime: this.started },
      StateMachine: this.opts.context.StateMachine,
      State: { Name: stateName, EnteredTime: new Date().toISOString(), RetryCount: retryCount },
      ...(mapItem ? { Map: { Item: mapItem } } : {}),
    };
  }

  private dataLimit(stateName: string, what: 'input' | 'output'): StatesError {
    const message =
      what === 'input'
        ? `The state/task '${stateName}' has an input with a size exceeding the maximum number of bytes service limit.`
        : `The state/task '${stateName}' returned a result with a size exceeding the maximum number of bytes service limit.`;
    return new StatesError('States.DataLimitExceeded', message);
  }

  /** Runs the states of `machine` from StartAt to an end state; resolves with the last output. */
  async states(machine: { StartAt: string; States: Record<string, unknown> }, input: Json, signal: AbortSignal, mapItem?: { Index: number; Value: Json }): Promise<Json> {
    let name = machine.StartAt;
    let value = input;
    for (;;) {
      if (signal.aborted) throw new ExecutionAbortedError();
      const state = machine.States[name] as State | undefined;
      if (!state) throw new StatesError('States.Runtime', `State '${name}' is not defined`);
      this.opts.onEvent?.({ type: 'StateEntered', state: name });
      const { output, next } = await this.withRetryAndCatch(name, state, value, signal, mapItem);
      if (this.opts.payloadLimit?.strict && bytesOf(output) > this.opts.payloadLimit.bytes) throw this.dataLimit(name, 'output');
      this.opts.onEvent?.({ type: 'StateExited', state: name, output });
      if (next === undefined) return output;
      name = next;
      value = output;
    }
  }

  private async withRetryAndCatch(name: string, state: State, input: Json, signal: AbortSignal, mapItem?: { Index: number; Value: Json }): Promise<{ output: Json; next?: string }> {
    const retriers = (state.Retry ?? []) as Retrier[];
    const attempts = retriers.map(() => 0);
    for (let retryCount = 0; ; retryCount++) {
      try {
        return await this.execute(name, state, input, signal, this.context(name, retryCount, mapItem));
      } catch (e) {
        if (e instanceof ExecutionAbortedError) throw e;
        const { Error: error, Cause: cause } = errorOutput(e);
        const fromTask = state.Type === 'Task';
        const r = retriers.findIndex((x) => errorMatches(x.ErrorEquals, error, fromTask));
        if (r >= 0 && attempts[r] < (retriers[r].MaxAttempts ?? 3)) {
          attempts[r]++;
          this.opts.onEvent?.({ type: 'StateRetried', state: name, error, cause });
          await sleep(this.retryDelay(name, retriers[r], r, attempts[r]), signal);
          continue;
        }
        this.opts.onEvent?.({ type: 'StateFailed', state: name, error, cause });
        const c = ((state.Catch ?? []) as Catcher[]).find((x) => errorMatches(x.ErrorEquals, error, fromTask));
        if (!c) throw e;
        return { output: writeResult(c.ResultPath, input, { Error: error, Cause: cause }), next: c.Next };
      }
    }
  }

  private retryDelay(name: string, r: Retrier, index: number, attempt: number): number {
    const override = this.opts.retryIntervalOverrides?.[name];
    if (override !== undefined) return Array.isArray(override) ? (override[index] ?? override[override.length - 1]) : override;
    return backoffMs(r, attempt);
  }

  private async execute(name: string, state: State, raw: Json, signal: AbortSignal, ctx: Json): Promise<{ output: Json; next?: string }> {
    const next = state.End === true ? undefined : (state.Next as string | undefined);
    const input = selectPath(state.InputPath as string | null | undefined, raw, ctx, 'InputPath');
    const finish = (result: unknown, withSelector = true) => {
      const selected = withSelector && state.ResultSelector !== undefined ? applyTemplate(state.ResultSelector, result, ctx) : (result as Json);
      return selectPath(state.OutputPath as string | null | undefined, writeResult(state.ResultPath as string | null | undefined, input, selected), ctx, 'OutputPath');
    };
    switch (state.Type) {
      case 'Pass': {
        const effective = state.Parameters !== undefined ? applyTemplate(state.Parameters, input, ctx) : input;
        return { output: finish(state.Result !== undefined ? state.Result : effective, false), next };
      }
      case 'Task':
        return { output: finish(await this.task(name, state, input, signal, ctx)), next };
      case 'Choice': {
        const choice = ((state.Choices ?? []) as ChoiceRule[]).find((rule) => evaluateRule(rule, input, ctx));
        const target = (choice?.Next as string | undefined) ?? (state.Default as string | undefined);
        if (!target) throw new StatesError('States.NoChoiceMatched', `No Choice rule matched and no Default in state '${name}'`);
        return { output: selectPath(state.OutputPath as string | null | undefined, input, ctx, 'OutputPath'), next: target };
      }
      case 'Wait': {
        const seconds = state.SecondsPath ? Number(readPath(String(state.SecondsPath), input, ctx, 'SecondsPath')) : state.Seconds;
        const until = state.TimestampPath ? String(readPath(String(state.TimestampPath), input, ctx, 'TimestampPath')) : (state.Timestamp as string | undefined);
        const ms = typeof seconds === 'number' ? seconds * 1000 : until ? Date.parse(until) - Date.now() : 0;
        if (ms > 0) await sleep(ms, signal);
        return { output: selectPath(state.OutputPath as string | null | undefined, input, ctx, 'OutputPath'), next };
      }
      case 'Succeed':
        return { output: selectPath(state.OutputPath as string | null | undefined, input, ctx, 'OutputPath') };
      case 'Fail': {
        const error = state.ErrorPath ? String(readPath(String(state.ErrorPath), input, ctx, 'ErrorPath')) : String(state.Error ?? 'States.Fail');
        const cause = state.CausePath ? String(readPath(String(state.CausePath), input, ctx, 'CausePath')) : String(state.Cause ?? '');
        throw new StatesError(error, cause);
      }
      case 'Parallel': {
        const effective = state.Parameters !== undefined ? applyTemplate(state.Parameters, input, ctx) : input;
        const branches = state.Branches as { StartAt: string; States: Record<string, unknown> }[];
        return { output: finish(await this.allOrNothing(branches.map((b) => (s: AbortSignal) => this.states(b, effective, s)), 0, signal)), next };
      }
      case 'Map':
        return { output: finish(await this.map(state, input, signal, ctx)), next };
      default:
        throw new StatesError('States.Runtime', `State '${name}' has unsupported type ${state.Type}`);
    }
  }

  private async task(name: string, state: State, input: Json, signal: AbortSignal, ctx: Json): Promise<unknown> {
    const effective = state.Parameters !== undefined ? applyTemplate(state.Parameters, input, ctx) : input;
    const limit = this.opts.payloadLimit;
    if (limit?.strict && bytesOf(effective) > limit.bytes) throw this.dataLimit(name, 'input');
    let call = this.opts.invokeTask(name, String(state.Resource), effective, signal);
    const timeout = state.TimeoutSeconds as number | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (timeout !== undefined) {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StatesError('States.Timeout', `Task '${name}' timed out after ${timeout} s`)), timeout * 1000);
      });
      call = Promise.race([call, timedOut]);
    }
    try {
      const result = await abortable(call, signal);
      if (limit && bytesOf(result) > limit.bytes) throw this.dataLimit(name, 'output');
      return result === undefined ? null : JSON.parse(JSON.stringify(result));
    } finally {
      clearTimeout(timer);
    }
  }

  private async map(state: State, input: Json, signal: AbortSignal, ctx: Json): Promise<Json[]> {
    const items = state.ItemsPath === undefined ? input : readPath(String(state.ItemsPath), input, ctx, 'ItemsPath');
    if (!Array.isArray(items)) throw new StatesError('States.Runtime', `Map state's ItemsPath did not select an array`);
    const processor = (state.ItemProcessor ?? state.Iterator) as { StartAt: string; States: Record<string, unknown>; ProcessorConfig?: { Mode?: string } };
    const selector = state.ItemSelector ?? state.Parameters;
    const runs = items.map((value, index) => (s: AbortSignal) => {
      const item = { Index: index, Value: value };
      const itemInput = selector !== undefined ? applyTemplate(selector, input, { ...(ctx as object), Map: { Item: item } }) : value;
      return this.states(processor, itemInput, s, item);
    });
    const concurrency = (state.MaxConcurrency as number | undefined) ?? 0;
    if (processor.ProcessorConfig?.Mode !== 'DISTRIBUTED') return this.allOrNothing(runs, concurrency, signal);
    return this.tolerating(runs, concurrency, signal, state);
  }

  /** Runs every job (at most `concurrency` at once, 0 = all); the first failure stops the others and is thrown. */
  private async allOrNothing(jobs: ((s: AbortSignal) => Promise<Json>)[], concurrency: number, signal: AbortSignal): Promise<Json[]> {
    const inner = new AbortController();
    unlimitedListeners(inner.signal);
    const stop = () => inner.abort();
    signal.addEventListener('abort', stop, { once: true });
    let failure: unknown;
    try {
      return await pool(jobs.length, concurrency, async (i) => {
        try {
          return await jobs[i](inner.signal);
        } catch (e) {
          // The first failure is the cause; the siblings it stops fail with aborts.
          failure ??= e;
          inner.abort();
          throw e;
        }
      });
    } catch (e) {
      throw signal.aborted ? new ExecutionAbortedError() : (failure ?? e);
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  /** A Distributed Map's children: failures are counted, not thrown, up to the tolerated threshold. */
  private async tolerating(jobs: ((s: AbortSignal) => Promise<Json>)[], concurrency: number, signal: AbortSignal, state: State): Promise<Json[]> {
    let failed = 0;
    const results = await pool(jobs.length, concurrency, async (i) => {
      try {
        return await jobs[i](signal);
      } catch (e) {
        if (e instanceof ExecutionAbortedError) throw e;
        failed++;
        return errorOutput(e);
      }
    });
    const pct = (state.ToleratedFailurePercentage as number | undefined) ?? 0;
    const count = (state.ToleratedFailureCount as number | undefined) ?? 0;
    const overPct = jobs.length > 0 && (failed / jobs.length) * 100 > pct;
    if (failed > 0 && overPct && failed > count) {
      throw new StatesError('States.ExceedToleratedFailureThreshold', `The number of failed items (${failed} of ${jobs.length}) exceeds the tolerated failure threshold`);
    }
    return results;
  }
}

/**
 * The wait before retry number `attempt` (1-based) of a retrier: IntervalSeconds × BackoffRate^(attempt-1),
 * capped by MaxDelaySeconds; with full jitter a uniformly random wait between 0 and that.
 */
export function backoffMs(r: Retrier, attempt: number, random: (maxInclusive: number) => number = (max) => randomInt(0, max + 1)): number {
  let ms = (r.IntervalSeconds ?? 1) * 1000 * (r.BackoffRate ?? 2) ** (attempt - 1);
  if (r.MaxDelaySeconds !== undefined) ms = Math.min(ms, r.MaxDelaySeconds * 1000);
  return r.JitterStrategy === 'FULL' ? random(Math.floor(ms)) : ms;
}

/** Runs `work(i)` for i in [0, n), at most `concurrency` at once (0: all at once); results in order. */
async function pool<T>(n: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(n);
  let nextIndex = 0;
  const width = concurrency > 0 ? Math.min(concurrency, n) : n;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (nextIndex < n) {
        const i = nextIndex++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

/** Runs one execution of `definition`; resolves with its output or rejects with the error that failed it. */
export function runExecution(definition: StateMachineDefinition, input: Json, opts: RunOptions): Promise<Json> {
  const signal = unlimitedListeners(opts.signal ?? new AbortController().signal);
  const run = new Run(opts, input, new Date().toISOString());
  return run.states(definition, input, signal);
}

export { ExecutionAbortedError, StatesError, TERMINAL_ERRORS };
