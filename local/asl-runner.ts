/**
 * Runs the synthesized sync state machine on this machine with aws-local-stepfunctions. Every Task
 * state is overridden by name to call the local handler of the Lambda it names, with Lambda's
 * invoke semantics: a direct function ARN resource (CDK's `payloadResponseOnly`) returns the
 * handler's result; `arn:aws:states:::lambda:invoke` receives `{FunctionName, Payload}` and returns
 * `{Payload, StatusCode, ExecutedVersion, ...}`. Parameters, ResultSelector, ResultPath, Retry and
 * Catch are applied by the library, from the definition as deployed.
 *
 * Shims (where the library and Step Functions differ, see local-emulators notes):
 * - the library gives a Task without `TimeoutSeconds` a 60 s timeout; Step Functions has none, so
 *   such Tasks get one far beyond any Lambda timeout (the Lambda's own timeout still applies);
 * - a DISTRIBUTED Map runs like an inline one over `ItemsPath` with its MaxConcurrency
 *   (ItemReader/ItemBatcher/ResultWriter are refused when the definition is loaded: the sync machine
 *   does not use them); `ToleratedFailurePercentage: 100` is reproduced by a Catch around each item;
 * - results over Step Functions' 256 KiB payload limit fail with `States.DataLimitExceeded`;
 *   in AWS-strict mode (LABELSYNC_AWS_STRICT) a Task's input after Parameters and every state's
 *   output are checked too, and the error is terminal as in AWS: a Retry or Catch on `States.ALL`
 *   does not match it (nor `States.Runtime`, which the library already treats so). The library
 *   cannot match those two only when named explicitly, so strict mode refuses a definition that
 *   names them rather than run it differently; a terminal error inside a tolerated Map item fails
 *   the execution here (a Distributed Map child would just count as a failed item);
 * - `ResultPath: "$"` is dropped (same meaning in ASL): the library would write a key named "$".
 */
import { randomUUID } from 'node:crypto';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { FUNCTIONS, type FunctionName } from '../functions/manifest';
import { LOCAL_ACCOUNT_ID } from './apigw-event';
import { awsStrictOf } from '../shared/config/env';
import { STATE_PAYLOAD_LIMIT_BYTES } from '../shared/sync/list-step-limit';
import { importHandler, invokeLocal, LambdaInvocationError, localFunctionName, type HandlerResolver } from './lambda-functions';
import { validateDefinition } from './state-machine-definition';

// aws-local-stepfunctions uses Promise.withResolvers (Node 22); Node 20 lacks it.
const P = Promise as unknown as { withResolvers?: () => unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (v: T | PromiseLike<T>) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type AnyState = Record<string, unknown> & { Type: string };

/** Step Functions' maximum size of a state's input or output (UTF-8 bytes of its JSON). */
const MAX_PAYLOAD_BYTES = STATE_PAYLOAD_LIMIT_BYTES;
/** Errors a Retry or Catch on `States.ALL` does not match in Step Functions. */
const TERMINAL_ERRORS = ['States.DataLimitExceeded', 'States.Runtime'];
/** Task timeout given to Tasks that have none (Step Functions has no default); below setTimeout's 2^31 ms cap. */
const UNBOUNDED_TASK_SECONDS = 1_000_000;
/** Step Functions' history limit of a Standard execution (for a warning: the library has no history). */
const HISTORY_LIMIT = 25_000;

/** How one Task state reaches its Lambda. */
export interface TaskBinding {
  fn: FunctionName;
  /** `direct`: Resource is the function ARN; `invoke`: `arn:aws:states:::lambda:invoke`. */
  integration: 'direct' | 'invoke';
}

/** A Task state failure with Step Functions' error name and Cause (Lambda's `{errorType, errorMessage, trace}` JSON). */
class TaskError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/**
 * An error Step Functions fails the execution with whatever the Retry and Catch fields say
 * (`isRetryable`/`isCatchable` are what aws-local-stepfunctions' matching reads).
 */
class TerminalError extends TaskError {
  readonly isRetryable = false;
  readonly isCatchable = false;
}

function payloadBytes(value: unknown): number {
  return Buffer.byteLength(value === undefined ? 'null' : JSON.stringify(value));
}

function dataLimitExceeded(stateName: string, what: 'input' | 'output', terminal: boolean): TaskError {
  const message =
    what === 'input'
      ? `The state/task '${stateName}' has an input with a size exceeding the maximum number of bytes service limit.`
      : `The state/task '${stateName}' returned a result with a size exceeding the maximum number of bytes service limit.`;
  return terminal ? new TerminalError('States.DataLimitExceeded', message) : new TaskError('States.DataLimitExceeded', message);
}

/** What one execution's Task states and event reader share: the first terminal error seen. */
interface ExecutionGuard {
  terminal?: TaskError;
  abort(): void;
}

function functionFromArnOrName(ref: string): FunctionName | undefined {
  // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>] or a bare name
  const m = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::.+)?$/.exec(ref);
  const name = m ? m[1] : ref.split(':')[0];
  for (const fn of Object.keys(FUNCTIONS) as FunctionName[]) if (localFunctionName(fn) === name || fn === name) return fn;
  return undefined;
}

/** Every state of the machine with its name, including those inside Parallel branches and Map processors. */
function* allStates(def: { States: Record<string, unknown> }): Generator<[string, AnyState]> {
  for (const [name, s] of Object.entries(def.States)) {
    const state = s as AnyState;
    yield [name, state];
    if (state.Type === 'Parallel') for (const b of state.Branches as { States: Record<string, unknown> }[]) yield* allStates(b);
    if (state.Type === 'Map') {
      const proc = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, unknown> } | undefined;
      if (proc) yield* allStates(proc);
    }
  }
}

/**
 * Binds every Task state to a manifest function and applies the shims (see file comment) to a copy
 * of `definition`. Throws for a Task the local runtime cannot run (not a Lambda, dynamic function
 * name, callback pattern) and for Map features it cannot reproduce.
 */
export function prepareDefinition(definition: StateMachineDefinition, opts: { strict?: boolean } = {}): { definition: StateMachineDefinition; tasks: Map<string, TaskBinding> } {
  const def = structuredClone(definition) as unknown as { States: Record<string, unknown> };
  const tasks = new Map<string, TaskBinding>();
  for (const [name, state] of allStates(def)) {
    if (opts.strict) refuseNamedTerminalErrors(name, state);
    // The library writes `ResultPath: "$"` into a key named "$" instead of replacing the input;
    // an absent ResultPath means the same thing in ASL and the library gets that right.
    if (state.ResultPath === '$') delete state.ResultPath;
    for (const c of (state.Catch ?? []) as { ResultPath?: string }[]) if (c.ResultPath === '$') delete c.ResultPath;
    if (state.Type === 'Map') {
      for (const f of ['ItemReader', 'ItemBatcher', 'ResultWriter', 'ToleratedFailurePercentagePath', 'ToleratedFailureCountPath'] as const) {
        if (state[f] !== undefined) throw new Error(`Map state '${name}' uses ${f}, which the local runner does not reproduce`);
      }
      tolerateFailures(name, state);
    }
    if (state.Type !== 'Task') continue;
    const resource = String(state.Resource);
    let binding: TaskBinding | undefined;
    if (/^arn:aws[a-z-]*:states:::lambda:invoke$/.test(resource)) {
      const params = (state.Parameters ?? {}) as Record<string, unknown>;
      const fnRef = params.FunctionName;
      if (typeof fnRef !== 'string') throw new Error(`Task '${name}': FunctionName must be a static string locally`);
      const fn = functionFromArnOrName(fnRef);
      if (fn) binding = { fn, integration: 'invoke' };
    } else if (/:lambda:/.test(resource)) {
      const fn = functionFromArnOrName(resource);
      if (fn) binding = { fn, integration: 'direct' };
    }
    if (!binding) throw new Error(`Task '${name}' calls '${resource}', which is not a labelsync function`);
    tasks.set(name, binding);
    if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) state.TimeoutSeconds = UNBOUNDED_TASK_SECONDS;
  }
  return { definition: def as unknown as StateMachineDefinition, tasks };
}

/** See the file comment: explicit matches of terminal errors cannot be reproduced. */
function refuseNamedTerminalErrors(name: string, state: AnyState): void {
  for (const field of ['Retry', 'Catch'] as const) {
    for (const entry of (state[field] ?? []) as { ErrorEquals: string[] }[]) {
      const named = entry.ErrorEquals.find((e) => TERMINAL_ERRORS.includes(e));
      if (named) throw new Error(`State '${name}' names ${named} in its ${field}, which the local runner cannot match only when named`);
    }
  }
}

/**
 * A Distributed Map with `ToleratedFailurePercentage: 100` lets child executions fail without
 * failing the Map; the library fails on the first failed item. Wrapping the item processor in a
 * Parallel whose Catch swallows the error reproduces "tolerate every failure" (the failed item's
 * result becomes its `{Error, Cause}`). Partial thresholds would need counting and are refused.
 */
function tolerateFailures(name: string, state: AnyState): void {
  const pct = state.ToleratedFailurePercentage as number | undefined;
  const count = state.ToleratedFailureCount as number | undefined;
  if (!pct && !count) return;
  if (pct !== 100) throw new Error(`Map state '${name}': only ToleratedFailurePercentage 0 or 100 is reproduced locally`);
  const key = state.ItemProcessor !== undefined ? 'ItemProcessor' : 'Iterator';
  const { ProcessorConfig, ...processor } = state[key] as Record<string, unknown>;
  const guard = `${name} (tolerate failures)`;
  const failed = `${name} (item failed)`;
  state[key] = {
    ...(ProcessorConfig ? { ProcessorConfig } : {}),
    StartAt: guard,
    States: {
      [guard]: {
        Type: 'Parallel',
        Branches: [processor],
        OutputPath: '$[0]',
        Catch: [{ ErrorEquals: ['States.ALL'], Next: failed }],
        End: true,
      },
      [failed]: { Type: 'Pass', End: true },
    },
  };
  delete state.ToleratedFailurePercentage;
  delete state.ToleratedFailureCount;
}

export interface LocalStateMachineOptions {
  /** Resolved ASL (from `synthesizeStateMachine`). */
  definition: StateMachineDefinition;
  region: string;
  /** Where Task states find handlers; defaults to importing the manifest entries (production). Tests inject stubs. */
  resolveHandler?: HandlerResolver;
  /** Shortens Retry intervals (ms per state name), e.g. in tests; production uses the definition's. */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /** Receives one line per failed or retried state (default console.error). */
  log?: (message: string) => void;
  /** Step Functions' payload rules in full (see the file comment). @default LABELSYNC_AWS_STRICT */
  strict?: boolean;
}

export interface LocalExecution {
  executionArn: string;
  name: string;
  /** Settles with the execution's output, or rejects with the library's ExecutionError (message = cause). */
  result: Promise<unknown>;
  abort(): void;
}

/** ARN of the local state machine (the name the stack's would have locally). */
export const localStateMachineArn = (region: string): string => `arn:aws:states:${region}:${LOCAL_ACCOUNT_ID}:stateMachine:labelsync-sync`;

/** The state machine, ready to run executions locally. */
export class LocalStateMachine {
  readonly tasks: ReadonlyMap<string, TaskBinding>;
  readonly stateMachineArn: string;
  private readonly machine: StateMachine;
  private readonly resolveHandler: HandlerResolver;
  readonly strict: boolean;

  constructor(private readonly opts: LocalStateMachineOptions) {
    validateDefinition(opts.definition);
    this.strict = opts.strict ?? awsStrictOf(process.env);
    const prepared = prepareDefinition(opts.definition, { strict: this.strict });
    this.tasks = prepared.tasks;
    // Validated above on the original; the library's own (older) validator knows no DISTRIBUTED fields.
    this.machine = new StateMachine(prepared.definition, { validationOptions: { noValidate: true } });
    this.resolveHandler = opts.resolveHandler ?? importHandler;
    this.stateMachineArn = localStateMachineArn(opts.region);
  }

  /** The override of one Task state: Lambda invoke semantics around the local handler. */
  private taskHandler(stateName: string, b: TaskBinding, guard: ExecutionGuard): (input: unknown) => Promise<Json> {
    return async (input) => {
      if (this.strict) {
        // Lets the event reader see every state that exited before this Task (events are promise-queued).
        await new Promise((r) => setImmediate(r));
        if (guard.terminal) throw guard.terminal;
        if (payloadBytes(input) > MAX_PAYLOAD_BYTES) throw dataLimitExceeded(stateName, 'input', true);
      }
      const payload = b.integration === 'invoke' ? ((input as Record<string, unknown>)?.Payload ?? {}) : input;
      const handler = await this.resolveHandler(b.fn);
      let result: unknown;
      try {
        result = await invokeLocal(b.fn, handler, payload, { region: this.opts.region });
      } catch (e) {
        const err = e as LambdaInvocationError;
        throw new TaskError(err.errorType ?? 'Error', err instanceof LambdaInvocationError ? err.stepFunctionsCause() : String(e));
      }
      const json = result === undefined ? 'null' : JSON.stringify(result);
      if (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES) throw dataLimitExceeded(stateName, 'output', this.strict);
      const payloadOut = JSON.parse(json) as Json;
      if (b.integration === 'direct') return payloadOut;
      return {
        ExecutedVersion: '$LATEST',
        Payload: payloadOut,
        SdkHttpMetadata: { HttpStatusCode: 200 },
        SdkResponseMetadata: { RequestId: randomUUID() },
        StatusCode: 200,
      };
    };
  }

  /** Invokes a manifest function outside the machine (as an EventBridge target would), with Lambda's semantics. */
  async invokeFunction(fn: FunctionName, event: unknown): Promise<unknown> {
    return invokeLocal(fn, await this.resolveHandler(fn), event, { region: this.opts.region });
  }

  /** Starts an execution named `name` (unique names are the caller's business: see LocalSyncStarter). */
  start(input: unknown, name: string = randomUUID()): LocalExecution {
    const guard: ExecutionGuard = { abort: () => {} };
    const overrides: Record<string, (input: unknown) => Promise<Json>> = {};
    for (const [stateName, b] of this.tasks) overrides[stateName] = this.taskHandler(stateName, b, guard);
    const executionArn = this.stateMachineArn.replace(':stateMachine:', ':execution:') + `:${name}`;
    const run = this.machine.run(input as Json, {
      overrides: {
        taskResourceLocalHandlers: overrides as never,
        ...(this.opts.retryIntervalOverrides ? { retryIntervalOverrides: this.opts.retryIntervalOverrides } : {}),
      },
      context: {
        Execution: { Id: executionArn, Name: name, RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/labelsync-local` },
        StateMachine: { Id: this.stateMachineArn, Name: 'labelsync-sync' },
      },
    });
    guard.abort = run.abort;
    void this.drainEvents(run.eventLogs, name, guard);
    return { executionArn, name, result: this.strict ? terminalOutcome(run.result, guard) : run.result, abort: run.abort };
  }

  /** The library queues events until read: read them, keep only failures for the log. */
  private async drainEvents(events: AsyncGenerator<StateEvent>, name: string, guard: ExecutionGuard): Promise<void> {
    const log = this.opts.log ?? ((m: string) => console.error(m));
    let count = 0;
    let warned = false;
    try {
      for await (const ev of events) {
        count++;
        if (!warned && count > HISTORY_LIMIT) {
          warned = true;
          log(`[sfn] ${name}: over ${HISTORY_LIMIT} events — a Standard execution in AWS would hit its history limit`);
        }
        if (this.strict && ev.type === 'StateExited' && !guard.terminal && payloadBytes(ev.state?.output) > MAX_PAYLOAD_BYTES) {
          guard.terminal = dataLimitExceeded(ev.state!.name, 'output', true);
          log(`[sfn] ${name}: ${guard.terminal.name}: ${guard.terminal.message}`);
          guard.abort();
        }
        if (ev.type === 'StateFailed' || ev.type === 'ExecutionFailed') log(`[sfn] ${name}: ${ev.type} ${ev.state?.name ?? ''} ${ev.Error ?? ''}: ${causeMessage(ev.Cause)}`);
        else if (ev.type === 'StateRetried') log(`[sfn] ${name}: retrying ${ev.state?.name ?? ''}`);
      }
    } catch {
      // the execution's own promise carries the outcome
    }
  }
}

type StateEvent = { type: string; state?: { name: string; output?: unknown }; Error?: string; Cause?: unknown };

/**
 * The execution's outcome once a terminal error was seen: it fails with that error, whatever the
 * states after it did (only Pass and Choice states can have run: Task states check the guard first).
 */
async function terminalOutcome(result: Promise<unknown>, guard: ExecutionGuard): Promise<unknown> {
  let output: unknown;
  try {
    output = await result;
  } catch (e) {
    if (guard.terminal) throw new ExecutionError(guard.terminal as never);
    throw e;
  }
  // The event reader may still hold the last state's exit.
  await new Promise((r) => setImmediate(r));
  if (guard.terminal) throw new ExecutionError(guard.terminal as never);
  return output;
}

/** The readable part of a Cause: Lambda's errorMessage when it is Lambda's JSON, without the trace. */
function causeMessage(cause: unknown): string {
  const text = String(cause ?? '');
  try {
    const parsed = JSON.parse(text) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage.slice(0, 500);
  } catch {
    // not JSON: a States.* error's plain message
  }
  return text.slice(0, 500);
}
