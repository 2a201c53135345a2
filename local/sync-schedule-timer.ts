/**
 * `npm start`'s `SyncScheduler`: storages' `sync_schedule`s on timers, as EventBridge Scheduler
 * runs them in AWS. Schedules are kept in the table (shared/db/repo-local-schedules.ts), so a
 * restart re-arms them (`start`); `put` and `remove` (called by the storages use case) re-arm or
 * clear a timer at once. Each fire invokes the scheduledSync function with `{storageId}` like
 * Scheduler does; the run decides (queue, or skip and count while a sync runs). A rate counts its
 * intervals from when it was set; a missed fire (the process was down) is not caught up, as
 * Scheduler's flexible window OFF does not either. Times are UTC.
 */
import type { Db } from '../shared/db/repo-common';
import { deleteLocalSchedule, listLocalSchedules, putLocalSchedule } from '../shared/db/repo-local-schedules';
import { nextFire, parseScheduleExpression, type ParsedSchedule } from '../shared/sync/schedule-expression';
import type { SyncScheduler } from '../shared/sync/sync-scheduler';

/** The timer's clock (tests pass a manual one). */
export interface ScheduleClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: ScheduleClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Node's setTimeout fires at once beyond 2^31-1 ms; a longer wait re-arms on the way. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LocalSyncSchedulerOptions {
  /** The table the schedules are kept in (asked on each use: the runtime installs its app later). */
  db: () => Db;
  /** Invokes scheduledSync for a storage. */
  run(storageId: number): Promise<unknown>;
  log(message: string): void;
  clock?: ScheduleClock;
}

interface Armed {
  parsed: ParsedSchedule;
  setAt: number;
  next: number;
  timer: unknown;
}

export class LocalSyncScheduler implements SyncScheduler {
  private readonly armed = new Map<number, Armed>();
  private readonly clock: ScheduleClock;
  private stopped = false;

  constructor(private readonly opts: LocalSyncSchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Arms every stored schedule (a restart). Resolves with how many. */
  async start(): Promise<number> {
    let n = 0;
    for await (const s of listLocalSchedules(this.opts.db())) {
      try {
        this.arm(s.storageId, s.expression, Date.parse(s.set_at));
        n += 1;
      } catch (e) {
        this.opts.log(`[schedule] storage ${s.storageId}: stored schedule ${s.expression} not armed: ${(e as Error).message}`);
      }
    }
    return n;
  }

  async put(storageId: number, expression: string): Promise<void> {
    const setAt = this.clock.now();
    parseScheduleExpression(expression);
    await putLocalSchedule(this.opts.db(), { storageId, expression, set_at: new Date(setAt).toISOString() });
    this.arm(storageId, expression, setAt);
  }

  async remove(storageId: number): Promise<void> {
    await deleteLocalSchedule(this.opts.db(), storageId);
    this.disarm(storageId);
  }

  /** When the storage's schedule fires next (undefined: none armed). */
  nextFireOf(storageId: number): Date | undefined {
    const a = this.armed.get(storageId);
    return a ? new Date(a.next) : undefined;
  }

  /** Clears every timer; a run in progress finishes on its own. */
  stop(): void {
    this.stopped = true;
    for (const id of [...this.armed.keys()]) this.disarm(id);
  }

  private arm(storageId: number, expression: string, setAt: number): void {
    this.disarm(storageId);
    if (this.stopped) return;
    const parsed = parseScheduleExpression(expression);
    const next = this.nextAfter(parsed, setAt, this.clock.now());
    this.wait(storageId, { parsed, setAt, next, timer: undefined });
  }

  /** The first fire strictly after `now`: a rate on its grid from `setAt`, a cron at its next minute. */
  private nextAfter(parsed: ParsedSchedule, setAt: number, now: number): number {
    if (parsed.kind === 'cron') return nextFire(parsed, new Date(now)).getTime();
    const elapsed = Math.max(0, now - setAt);
    return setAt + (Math.floor(elapsed / parsed.intervalMs) + 1) * parsed.intervalMs;
  }

  private wait(storageId: number, a: Armed): void {
    const delay = Math.max(0, Math.min(a.next - this.clock.now(), MAX_TIMER_MS));
    a.timer = this.clock.setTimeout(() => this.fire(storageId, a), delay);
    this.armed.set(storageId, a);
  }

  private fire(storageId: number, a: Armed): void {
    if (this.stopped || this.armed.get(storageId) !== a) return;
    const now = this.clock.now();
    if (now < a.next) return this.wait(storageId, a); // a long wait, re-armed on the way
    this.opts.run(storageId).catch((e) => this.opts.log(`[schedule] storage ${storageId}: scheduled sync failed: ${e instanceof Error ? e.message : String(e)}`));
    let next: number;
    try {
      next = this.nextAfter(a.parsed, a.setAt, Math.max(now, a.next));
    } catch {
      this.opts.log(`[schedule] storage ${storageId}: the schedule never fires again`);
      return this.disarm(storageId);
    }
    this.wait(storageId, { ...a, next });
  }

  private disarm(storageId: number): void {
    const a = this.armed.get(storageId);
    if (a) this.clock.clearTimeout(a.timer);
    this.armed.delete(storageId);
  }
}
