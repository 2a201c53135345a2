/**
 * The local `SyncStarter`: what StartExecution is in AWS. Runs the sync state machine in the
 * background through the local ASL runner, de-duplicates by execution name (a second start with a
 * name already seen is a no-op, as Step Functions does for an identical StartExecution), and runs at
 * most `maxConcurrent` executions at once; further starts wait in a FIFO queue.
 */
import type { SyncExecutionInput, SyncStarter } from '../shared/sync/starter';
import type { LocalStateMachine } from './asl-runner';

export type SyncInput = SyncExecutionInput;

export type ExecutionStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface ExecutionRecord {
  name: string;
  input: SyncInput;
  status: ExecutionStatus;
  output?: unknown;
  /** Why it failed, as Step Functions reports it (`Error` name and `Cause`). */
  error?: { Error: string; Cause: string };
  startedAt?: number;
  stoppedAt?: number;
  /** Settles (never rejects) when the execution stops. */
  done: Promise<void>;
}

export interface LocalSyncStarterOptions {
  /** Loads the state machine (memoized by the caller); awaited by the first start. */
  machine: () => Promise<LocalStateMachine>;
  /** @default 4 */
  maxConcurrent?: number;
  /** Names remembered for de-duplication once finished. @default 10,000 */
  rememberFinished?: number;
  log?: (message: string) => void;
}

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
   * Accepts an execution and returns once it is queued (not when it finishes). Loading the state
   * machine happens here, so a definition that cannot run locally fails the caller, like a failing
   * StartExecution would.
   */
  async start(input: SyncInput, executionName: string): Promise<void> {
    if (this.stopped) throw new Error('the local runtime is stopping; no new executions');
    if (this.executions.has(executionName)) return;
    await this.opts.machine();
    if (this.executions.has(executionName)) return; // a concurrent start won the race while loading
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    this.executions.set(executionName, { name: executionName, input: { ...input }, status: 'QUEUED', done, settle });
    this.queue.push(executionName);
    this.pump();
  }

  /** The execution's record, if this process started it (and has not forgotten it). */
  get(name: string): ExecutionRecord | undefined {
    const e = this.executions.get(name);
    if (!e) return undefined;
    const { abort: _a, settle: _s, ...rec } = e;
    return rec;
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
  }

  private pump(): void {
    while (!this.stopped && this.running < this.max && this.queue.length) {
      const name = this.queue.shift()!;
      const e = this.executions.get(name);
      if (!e) continue;
      this.running++;
      e.status = 'RUNNING';
      e.startedAt = Date.now();
      void this.opts
        .machine()
        .then((machine) => {
          const exec = machine.start(e.input, name);
          e.abort = exec.abort;
          return exec.result;
        })
        .then(
          (output) => {
            e.status = 'SUCCEEDED';
            e.output = output;
          },
          (err: unknown) => {
            // The library wraps the state's error in ExecutionError (cause = the original).
            const inner = err instanceof Error && err.name === 'ExecutionError' && err.cause instanceof Error ? err.cause : err;
            e.error = inner instanceof Error ? { Error: inner.name, Cause: inner.message } : { Error: 'Error', Cause: String(inner) };
            e.status = err instanceof Error && err.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
            if (e.status === 'FAILED') this.log(`[sfn] execution ${name} failed: ${e.error.Error}: ${e.error.Cause.slice(0, 1000)}`);
          },
        )
        .finally(() => {
          e.stoppedAt = Date.now();
          this.running--;
          e.settle();
          this.forgetOld();
          this.pump();
        });
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
