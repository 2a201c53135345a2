/**
 * The manifest's scheduled functions (`everyMinutes`) on timers, as EventBridge runs them in AWS:
 * each run is invoked like Lambda (manifest timeout) with a scheduled event, one run at a time per
 * function (a tick while one runs is skipped), and a failure is logged, not retried: the next tick
 * resumes the work, as the deployed rule does.
 */
import { randomUUID } from 'node:crypto';
import { FUNCTIONS, type FunctionName } from '../functions/manifest';
import { invokeLocal, type HandlerResolver } from './lambda-functions';

export interface LocalSchedulesOptions {
  resolveHandler: HandlerResolver;
  region: string;
  log: (message: string) => void;
  /** Also run each function right away (`npm start`: a restart resumes leftover work at once). */
  runAtStart: boolean;
}

export interface LocalSchedules {
  /** Runs `name` now (tests); resolves with its result, or undefined when a run was in progress. */
  run(name: FunctionName): Promise<unknown>;
  /** Clears the timers; a run in progress finishes on its own. */
  stop(): void;
}

/** The scheduled event EventBridge sends a rate rule's target. */
export function scheduledEvent(region: string): Record<string, unknown> {
  return { version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000', time: new Date().toISOString(), region, resources: [], detail: {} };
}

export function startLocalSchedules(opts: LocalSchedulesOptions): LocalSchedules {
  const running = new Map<FunctionName, Promise<unknown>>();
  let stopped = false;
  const run = (name: FunctionName): Promise<unknown> => {
    if (running.has(name)) return Promise.resolve(undefined);
    const p = opts
      .resolveHandler(name)
      .then((h) => invokeLocal(name, h, scheduledEvent(opts.region), { region: opts.region }))
      .finally(() => running.delete(name));
    running.set(name, p);
    return p;
  };
  const tick = (name: FunctionName) =>
    void run(name).catch((e) => {
      if (!stopped) opts.log(`[runtime] scheduled ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  const timers: NodeJS.Timeout[] = [];
  for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
    const minutes = FUNCTIONS[name].everyMinutes;
    if (!minutes) continue;
    const timer = setInterval(() => tick(name), minutes * 60_000);
    timer.unref();
    timers.push(timer);
    if (opts.runAtStart) setImmediate(() => !stopped && tick(name));
  }
  return {
    run,
    stop: () => {
      stopped = true;
      timers.forEach(clearInterval);
    },
  };
}
