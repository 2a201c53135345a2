/**
 * Runs the synthesized sync state machine on this machine with the ASL interpreter in local/asl/.
 * Every Task state is bound by name to the local handler of the Lambda it names, with Lambda's
 * invoke semantics: a direct function ARN resource (CDK's `payloadResponseOnly`) returns the
 * handler's result; `arn:aws:states:::lambda:invoke` receives `{FunctionName, Payload}` and returns
 * `{Payload, StatusCode, ExecutedVersion, ...}`. Parameters, ResultSelector, ResultPath, Retry and
 * Catch come from the definition as deployed.
 *
 * Step Functions' rules the interpreter applies (local/asl/interpreter.ts): results over the
 * 256 KiB payload limit fail with `States.DataLimitExceeded`, and in AWS-strict mode
 * (LABELSYNC_AWS_STRICT) a Task's input after Parameters and every state's output are checked
 * too; `States.DataLimitExceeded` and `States.Runtime` are not matched by `States.ALL`; a
 * DISTRIBUTED Map runs its items as child runs over `ItemsPath` with its MaxConcurrency and
 * tolerated failures. ItemReader, ItemBatcher and ResultWriter are refused when the definition is
 * loaded (the sync machine does not use them).
 */
import { randomUUID } from 'node:crypto';
import { FUNCTIONS, type FunctionName } from '../functions/manifest';
import { LOCAL_ACCOUNT_ID } from './apigw-event';
import { awsStrictOf } from '../shared/config/env';
import { STATE_PAYLOAD_LIMIT_BYTES } from '../shared/sync/list-step-limit';
import { runExecution, StatesError, type Json, type StateEvent, type StateMachineDefinition } from './asl/interpreter';
import { importHandler, invokeLocal, LambdaInvocationError, localFunctionName, type HandlerResolver } from './lambda-functions';
import { validateDefinition } from './state-machine-definition';

export type { StateMachineDefinition } from './asl/interpreter';

type AnyState = Record<string, unknown> & { Type: string };

/** Step Functions' history limit of a Standard execution (for a warning: nothing here keeps a history). */
const HISTORY_LIMIT = 25_000;

/** How one Task state reaches its Lambda. */
export interface TaskBinding {
  fn: FunctionName;
  /** `direct`: Resource is the function ARN; `invoke`: `arn:aws:states:::lambda:invoke`. */
  integration: 'direct' | 'invoke';
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
 * Binds every Task state to a manifest function. Throws for a Task the local runtime cannot run
 * (not a Lambda, dynamic function name, callback pattern) and for Map features it cannot reproduce.
 */
export function prepareDefinition(definition: StateMachineDefinition): { definition: StateMachineDefinition; tasks: Map<string, TaskBinding> } {
  const def = structuredClone(definition);
  const tasks = new Map<string, TaskBinding>();
  for (const [name, state] of allStates(def)) {
    if (state.Type === 'Map') {
      for (const f of ['ItemReader', 'ItemBatcher', 'ResultWriter', 'ToleratedFailurePercentagePath', 'ToleratedFailureCountPath'] as const) {
        if (state[f] !== undefined) throw new Error(`Map state '${name}' uses ${f}, which the local runner does not reproduce`);
      }
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
  }
  return { definition: def, tasks };
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
  /** Settles with the execution's output, or rejects with the error that failed it (name = Error, message = Cause; ExecutionAbortedError when stopped). */
  result: Promise<unknown>;
  abort(): void;
}

/** ARN of the local state machine (the name the stack's would have locally). */
export const localStateMachineArn = (region: string): string => `arn:aws:states:${region}:${LOCAL_ACCOUNT_ID}:stateMachine:labelsync-sync`;

/** The state machine, ready to run executions locally. */
export class LocalStateMachine {
  readonly tasks: ReadonlyMap<string, TaskBinding>;
  readonly stateMachineArn: string;
  private readonly definition: StateMachineDefinition;
  private readonly resolveHandler: HandlerResolver;
  readonly strict: boolean;

  constructor(private readonly opts: LocalStateMachineOptions) {
    validateDefinition(opts.definition);
    this.strict = opts.strict ?? awsStrictOf(process.env);
    const prepared = prepareDefinition(opts.definition);
    this.tasks = prepared.tasks;
    this.definition = prepared.definition;
    this.resolveHandler = opts.resolveHandler ?? importHandler;
    this.stateMachineArn = localStateMachineArn(opts.region);
  }

  /** One Task state: Lambda invoke semantics around the local handler. */
  private async invokeTask(stateName: string, input: Json): Promise<unknown> {
    const b = this.tasks.get(stateName);
    if (!b) throw new StatesError('States.Runtime', `Task '${stateName}' is bound to no function`);
    const payload = b.integration === 'invoke' ? ((input as Record<string, unknown>)?.Payload ?? {}) : input;
    const handler = await this.resolveHandler(b.fn);
    let result: unknown;
    try {
      result = await invokeLocal(b.fn, handler, payload, { region: this.opts.region });
    } catch (e) {
      const err = e as LambdaInvocationError;
      throw new StatesError(err.errorType ?? 'Error', err instanceof LambdaInvocationError ? err.stepFunctionsCause() : String(e));
    }
    if (b.integration === 'direct') return result;
    return {
      ExecutedVersion: '$LATEST',
      Payload: result === undefined ? null : result,
      SdkHttpMetadata: { HttpStatusCode: 200 },
      SdkResponseMetadata: { RequestId: randomUUID() },
      StatusCode: 200,
    };
  }

  /** Invokes a manifest function outside the machine (as an EventBridge target would), with Lambda's semantics. */
  async invokeFunction(fn: FunctionName, event: unknown): Promise<unknown> {
    return invokeLocal(fn, await this.resolveHandler(fn), event, { region: this.opts.region });
  }

  /** Starts an execution named `name` (unique names are the caller's business: see LocalSyncStarter). */
  start(input: unknown, name: string = randomUUID()): LocalExecution {
    const executionArn = this.stateMachineArn.replace(':stateMachine:', ':execution:') + `:${name}`;
    const controller = new AbortController();
    const log = this.opts.log ?? ((m: string) => console.error(m));
    let events = 0;
    const onEvent = (ev: StateEvent) => {
      if (++events === HISTORY_LIMIT + 1) log(`[sfn] ${name}: over ${HISTORY_LIMIT} events — a Standard execution in AWS would hit its history limit`);
      if (ev.type === 'StateFailed') log(`[sfn] ${name}: StateFailed ${ev.state} ${ev.error ?? ''}: ${causeMessage(ev.cause)}`);
      else if (ev.type === 'StateRetried') log(`[sfn] ${name}: retrying ${ev.state}`);
    };
    const result = runExecution(this.definition, input as Json, {
      invokeTask: (stateName, _resource, taskInput) => this.invokeTask(stateName, taskInput),
      context: {
        Execution: { Id: executionArn, Name: name, RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/labelsync-local` },
        StateMachine: { Id: this.stateMachineArn, Name: 'labelsync-sync' },
      },
      signal: controller.signal,
      retryIntervalOverrides: this.opts.retryIntervalOverrides,
      payloadLimit: { bytes: STATE_PAYLOAD_LIMIT_BYTES, strict: this.strict },
      onEvent,
    });
    result.catch((e: unknown) => {
      if (e instanceof Error && e.name !== 'ExecutionAbortedError') log(`[sfn] ${name}: ExecutionFailed ${e.name}: ${causeMessage(e.message)}`);
    });
    return { executionArn, name, result, abort: () => controller.abort() };
  }
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
