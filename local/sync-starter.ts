/**
 * The local `SyncStarter`: what StartExecution is in AWS. Runs the sync state machine in the
 * background through the local ASL runner, de-duplicates by execution name (a second start with a
 * name already seen is a no-op, as Step Functions does for an identical StartExecution), and runs at
 * most `maxConcurrent` executions at once; further starts wait in a FIFO queue.
 *
 * Step Functions executions outlive any client; local ones die with the process. With a
 * `journalFile`, executions that were queued or running when the runtime stopped are started again
 * (same name and input, from the first state: every step is idempotent) by `resume()` on the next
 * start, so a storage is never left `queued`/`in_progress` by a Ctrl-C.
 *
 * An execution that ends FAILED is reported as EventBridge reports it in AWS: the
 * `syncExecutionFailed` function gets the "Step Functions Execution Status Change" event (through
 * the machine's handler resolver) before the execution counts as settled. Executions aborted by a
 * stop are not reported: they run again on the next start.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ExecutionStatusDetail } from '../shared/sync/execution-failed';
import type { SyncExecutionInput, SyncStarter } from '../shared/sync/starter';
import { LOCAL_ACCOUNT_ID } from './apigw-event';
import { recordStandIn } from '../shared/aws/call-recorder';
import type { LocalStateMachine } from './asl-runner';
import { ExecutionAbortedError } from './asl/errors';

export type SyncInput = SyncExecutionInput;

export type ExecutionStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface ExecutionRecord {
  name: string;
  input: SyncInput;
  status: ExecutionStatus;
  output?: unknown;
  /** Why it failed, as Step Functions reports it (`Error` name and `Cause`). */
  error?: { Error: string; Cause: string };
  executionArn?: string;
  startedAt?: number;
  stoppedAt?: number;
  /** Settles (never rejects) when the execution stops. */
  done: Promise<void>;
}

export interface LocalSyncStarterOptions {
  /** Loads the state machine (memoized by the caller); awaited by the first start. */
  machine: () => Promise<LocalStateMachine>;
  /** ARN a StartExecution would name in AWS (recorded for the IAM evaluation). */
  stateMachineArn?: string;
  /** @default 4 */
  maxConcurrent?: number;
  /** Names remembered for de-duplication once finished. @default 10,000 */
  rememberFinished?: number;
  /** Where unfinished executions are remembered across restarts (JSON). */
  journalFile?: string;
  log?: (message: string) => void;
  /** Receives failed executions. @default the machine invokes `syncExecutionFailed` with EventBridge's event */
  onFailed?: (event: ExecutionStatusEvent, machine: LocalStateMachine) => Promise<unknown>;
}

/** EventBridge's event for an execution's status change (what the execution-failed rule delivers). */
export interface ExecutionStatusEvent {
  version: '0';
  id: string;
  'detail-type': 'Step Functions Execution Status Change';
  source: 'aws.states';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: ExecutionStatusDetail & { stateMachineArn: string; startDate?: number; stopDate?: number };
}

/** The status-change event of a stopped execution `e` of `machine`. */
export function executionStatusEvent(e: ExecutionRecord, machine: LocalStateMachine): ExecutionStatusEvent {
  const executionArn = e.executionArn ?? machine.stateMachineArn.replace(':stateMachine:', ':execution:') + `:${e.name}`;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: LOCAL_ACCOUNT_ID,
    time: new Date(e.stoppedAt ?? Date.now()).toISOString(),
    region: machine.stateMachineArn.split(':')[3],
    resources: [executionArn],
    detail: {
      executionArn,
      stateMachineArn: machine.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startedAt,
      stopDate: e.stoppedAt,
      input: JSON.stringify(e.input),
      error: e.error?.Error ?? null,
      cause: e.error?.Cause ?? null,
    },
  };
}

const reportToFunction = (event: ExecutionStatusEvent, machine: LocalStateMachine) => machine.invokeFunction('syncExecutionFailed', event);

export class LocalSyncStarter implements SyncStarter {
  private readonly executions = new Map<string, ExecutionRecord & { abort?: () => void; settle: () => void }>();
  private readonly queue: string[] = [];
  private running = 0;
  private stopped = false;
  private readonly max: number;
  private readonly remember: number;
  private readonly log: (m: string) => void;

  constructor(private readonly opts: LocalSyncStarterOptions) {
    this.max = opts.maxConcurrent ?? 4;
    this.remember = opts.rememberFinished ?? 10_000;
    this.log = opts.log ?? ((m) => console.error(m));
  }

  /**
   * Accepts an execution and returns once it is queued (not when it finishes), like StartExecution.
   * It never waits for the state machine to load (synthesis can take longer than the API's
   * timeout on a busy machine); an execution whose machine cannot load is kept in the journal and
   * runs on the next start.
   */
  async start(input: SyncInput, executionName: string): Promise<void> {
    if (this.stopped) throw new Error('the local runtime is stopping; no new executions');
    if (this.opts.stateMachineArn) recordStandIn({ action: 'states:StartExecution', resource: this.opts.stateMachineArn });
    if (this.executions.has(executionName)) return;
    this.enqueue(executionName, input);
    this.saveJournal();
  }

  /**
   * Starts again the executions the journal says were unfinished when the last runtime stopped.
   * Resolves with their names once they are queued.
   */
  async resume(): Promise<string[]> {
    const file = this.opts.journalFile;
    if (!file) return [];
    let unfinished: Record<string, SyncInput> = {};
    try {
      unfinished = JSON.parse(await readFile(file, 'utf8')) as Record<string, SyncInput>;
    } catch {
      return [];
    }
    const names = Object.keys(unfinished).filter((n) => !this.executions.has(n));
    for (const name of names) if (!this.executions.has(name) && !this.stopped) this.enqueue(name, unfinished[name]);
    this.saveJournal();
    return names;
  }

  private enqueue(name: string, input: SyncInput): void {
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    this.executions.set(name, { name, input: { ...input }, status: 'QUEUED', done, settle });
    this.queue.push(name);
    this.pump();
  }

  private journalWrite: Promise<void> = Promise.resolve();
  /** Writes the unfinished executions (queued, running, or aborted by a stop). Serialized, atomic. */
  private saveJournal(): void {
    const file = this.opts.journalFile;
    if (!file) return;
    const unfinished: Record<string, SyncInput> = {};
    for (const [name, e] of this.executions) if (e.status === 'QUEUED' || e.status === 'RUNNING' || e.status === 'ABORTED') unfinished[name] = e.input;
    const text = JSON.stringify(unfinished);
    this.journalWrite = this.journalWrite.then(async () => {
      try {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, text);
        await rename(`${file}.tmp`, file);
      } catch (e) {
        this.log(`[sfn] execution journal not saved: ${String(e)}`);
      }
    });
  }

  /** The execution's record, if this process started it (and has not forgotten it). */
  get(name: string): ExecutionRecord | undefined {
    const e = this.executions.get(name);
    if (!e) return undefined;
    const { abort: _a, settle: _s, ...rec } = e;
    return rec;
  }

  /** The inputs of the executions running now. */
  runningJobs(): SyncInput[] {
    return [...this.executions.values()].filter((e) => e.status === 'RUNNING').map((e) => e.input);
  }

  /** Resolves when no execution is queued or running. */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.executions.values()].filter((e) => e.status === 'QUEUED' || e.status === 'RUNNING');
      if (!pending.length) return;
      await Promise.all(pending.map((e) => e.done));
    }
  }

  /** Aborts running executions, drops queued ones, and waits for them to stop. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const name of this.queue.splice(0)) {
      const e = this.executions.get(name);
      if (e) {
        e.status = 'ABORTED';
        e.settle();
      }
    }
    const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
    for (const e of running) e.abort?.();
    await Promise.all(running.map((e) => e.done));
    this.saveJournal();
    await this.journalWrite;
  }

  private pump(): void {
    while (!this.stopped && this.running < this.max && this.queue.length) {
      const name = this.queue.shift()!;
      const e = this.executions.get(name);
      if (!e) continue;
      this.running++;
      e.status = 'RUNNING';
      e.startedAt = Date.now();
      let loaded: LocalStateMachine | undefined;
      void this.opts
        .machine()
        .then((machine) => {
          loaded = machine;
          if (this.stopped) throw new ExecutionAbortedError();
          const exec = machine.start(e.input, name);
          e.abort = exec.abort;
          e.executionArn = exec.executionArn;
          return exec.result;
        })
        .then(
          (output) => {
            e.status = 'SUCCEEDED';
            e.output = output;
          },
          (err: unknown) => {
            e.error = err instanceof Error ? { Error: err.name, Cause: err.message } : { Error: 'Error', Cause: String(err) };
            e.status = err instanceof ExecutionAbortedError ? 'ABORTED' : 'FAILED';
            if (!e.abort && !this.stopped) {
              // The machine did not load (e.g. lib/ mid-edit): nothing ran; keep it for the next start.
              e.status = 'ABORTED';
              e.error = { Error: 'Local.StateMachineUnavailable', Cause: e.error.Cause };
              this.log(`[sfn] execution ${name} not started, the state machine is unavailable (retried on next start): ${e.error.Cause.slice(0, 500)}`);
            }
            if (e.status === 'FAILED') this.log(`[sfn] execution ${name} failed: ${e.error.Error}: ${e.error.Cause.slice(0, 1000)}`);
            if (e.status === 'FAILED' && loaded) return this.reportFailure(e, loaded);
          },
        )
        .finally(() => {
          e.stoppedAt = Date.now();
          this.running--;
          e.settle();
          this.forgetOld();
          // While stopping, stop() writes the journal once everything has settled.
          if (!this.stopped) this.saveJournal();
          this.pump();
        });
    }
  }

  private async reportFailure(e: ExecutionRecord, machine: LocalStateMachine): Promise<void> {
    e.stoppedAt = Date.now();
    try {
      await (this.opts.onFailed ?? reportToFunction)(executionStatusEvent(e, machine), machine);
    } catch (err) {
      // EventBridge would retry and then dead-letter the event; locally the log is the record.
      this.log(`[sfn] execution ${e.name}: reporting the failure failed: ${String(err)}`);
    }
  }

  private forgetOld(): void {
    if (this.executions.size <= this.remember) return;
    for (const [name, e] of this.executions) {
      if (this.executions.size <= this.remember) break;
      if (e.status !== 'QUEUED' && e.status !== 'RUNNING') this.executions.delete(name);
    }
  }
}
