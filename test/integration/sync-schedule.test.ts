/**
 * `sync_schedule` end to end through the storages, projects and scheduledSync handlers on DynamoDB
 * Local: strict validation (400 naming the field), the schedule's lifecycle (create, change,
 * clear, storage delete, project delete), a scheduler failure refusing the save (502 naming the
 * schedule), scheduled runs that queue a normal sync or are skipped and counted while one runs
 * (never queued twice, concurrent runs included), and the local timer with a manual clock.
 *
 * EventBridge Scheduler and Step Functions have no emulator here: a recording scheduler double and
 * a recording sync starter stand in for them (the starter leaves the job queued, which is exactly
 * "a sync is running" for the scheduled run).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as projects } from '../../functions/api/projects';
import { handler as storages } from '../../functions/api/storages';
import { handler as scheduledSync } from '../../functions/sync/scheduled';
import { LocalSyncScheduler, type ScheduleClock } from '../../local/sync-schedule-timer';
import { listLocalSchedules } from '../../shared/db/repo-local-schedules';
import { getStorage } from '../../shared/db/repo-storages';
import { updateStorageStatus } from '../../shared/db/repo-storage-sync-state';
import { ScheduleError } from '../../shared/errors';
import { processApp } from '../../shared/process-app';
import { runScheduledSync } from '../../shared/sync/scheduled-sync';
import type { SyncExecutionInput, SyncStarter } from '../../shared/sync/starter';
import type { SyncScheduler } from '../../shared/sync/sync-scheduler';
import { client, newTenant, patchApp, useTestEnvironment } from './api-harness';

/** Records every call; `failing` makes the next calls throw as the AWS implementation does. */
class RecordingScheduler implements SyncScheduler {
  calls: string[] = [];
  failing = false;
  async put(storageId: number, expression: string): Promise<void> {
    if (this.failing) throw new ScheduleError(`The sync schedule labelsync-test-storage-${storageId} could not be saved (ThrottlingException); nothing was saved, try again.`);
    this.calls.push(`put ${storageId} ${expression}`);
  }
  async remove(storageId: number): Promise<void> {
    if (this.failing) throw new ScheduleError(`The sync schedule labelsync-test-storage-${storageId} could not be deleted (ThrottlingException); try again.`);
    this.calls.push(`remove ${storageId}`);
  }
}

class RecordingStarter implements SyncStarter {
  starts: SyncExecutionInput[] = [];
  async start(input: SyncExecutionInput): Promise<void> {
    this.starts.push(input);
  }
}

const scheduler = new RecordingScheduler();
const starter = new RecordingStarter();
const docRoot = mkdtempSync(join(tmpdir(), 'labelsync-schedule-'));
let api: ReturnType<typeof client>;
let apiP: ReturnType<typeof client>;
let projectId: number;

beforeAll(async () => {
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = docRoot;
  useTestEnvironment({ syncStarter: starter, syncScheduler: scheduler });
  const t = await newTenant('schedule');
  api = client(storages, t.token);
  apiP = client(projects, t.token);
  projectId = (await apiP('POST', '/api/projects', { title: 'scheduled' })).json.id;
});

afterAll(() => {
  scheduler.failing = false;
});

const meta = async (id: number) => (await api('GET', `/api/storages/localfiles/${id}`)).json.meta;

let dirs = 0;
/** A new local-files import storage (one file), with `extra` fields. */
async function create(extra: Record<string, unknown> = {}, project = projectId) {
  const dir = join(docRoot, `d${++dirs}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'a.json'), '{"text":"a"}');
  return api('POST', '/api/storages/localfiles', { project, path: dir, ...extra });
}

describe('sync_schedule: validation', () => {
  it.each([
    ['rate(0 minutes)', 'at least 1'],
    ['rate(1 minutes)', 'singular'],
    ['rate(30 seconds)', 'rate(N minute|minutes'],
    ['cron(0 10 * * * *)', 'Exactly one of day-of-month and day-of-week'],
    ['cron(0 0 30 2 ? *)', 'never fires'],
    ['hourly', 'Expected rate(N unit) or cron('],
  ])('refuses %s with a 400 naming sync_schedule and the problem, and creates no schedule', async (expr, problem) => {
    const before = scheduler.calls.length;
    const res = await create({ sync_schedule: expr });
    expect(res.status).toBe(400);
    expect(res.json.validation_errors.sync_schedule.join(' ')).toContain(problem);
    expect(scheduler.calls.length).toBe(before);
  });

  it('refuses a non-string', async () => {
    const res = await create({ sync_schedule: 5 });
    expect(res.status).toBe(400);
    expect(res.json.validation_errors).toHaveProperty('sync_schedule');
  });

  it('defaults to null (off): no schedule, as for Label Studio clients that never send it; blank is off too', async () => {
    const before = scheduler.calls.length;
    const plain = await create();
    expect(plain.status).toBe(201);
    expect(plain.json.sync_schedule).toBeNull();
    const blank = await create({ sync_schedule: '  ' });
    expect(blank.status).toBe(201);
    expect(blank.json.sync_schedule).toBeNull();
    expect(scheduler.calls.length).toBe(before);
  });

  it('is an import field only: export storages neither show nor store it', async () => {
    const dir = join(docRoot, 'export-target');
    mkdirSync(dir, { recursive: true });
    const res = await api('POST', '/api/storages/export/localfiles', { project: projectId, path: dir, sync_schedule: 'rate(5 minutes)' });
    expect(res.status).toBe(201);
    expect(res.json).not.toHaveProperty('sync_schedule');
    expect(scheduler.calls.filter((c) => c.startsWith(`put ${res.json.id} `))).toEqual([]);
  });
});

describe('sync_schedule: the schedule follows the field', () => {
  it('create, change, unrelated change, clear and delete each do exactly what the field says', async () => {
    const created = await create({ sync_schedule: ' rate(5 minutes) ' });
    expect(created.status).toBe(201);
    const id = created.json.id;
    expect(created.json.sync_schedule).toBe('rate(5 minutes)');
    const mine = () => scheduler.calls.filter((c) => c.split(' ')[1] === String(id));
    expect(mine()).toEqual([`put ${id} rate(5 minutes)`]);

    expect((await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: 'cron(0 6 ? * MON-FRI *)' })).json.sync_schedule).toBe('cron(0 6 ? * MON-FRI *)');
    expect((await api('PATCH', `/api/storages/localfiles/${id}`, { title: 'renamed' })).status).toBe(200);
    expect((await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: 'cron(0 6 ? * MON-FRI *)' })).status).toBe(200);
    expect(mine()).toEqual([`put ${id} rate(5 minutes)`, `put ${id} cron(0 6 ? * MON-FRI *)`]);

    expect((await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: null })).json.sync_schedule).toBeNull();
    expect(mine().at(-1)).toBe(`remove ${id}`);
    expect((await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: 'rate(1 day)' })).status).toBe(200);
    expect((await api('DELETE', `/api/storages/localfiles/${id}`)).status).toBe(204);
    expect(mine().slice(-2)).toEqual([`put ${id} rate(1 day)`, `remove ${id}`]);
  });

  it('a scheduler failure refuses the save with a 502 naming the schedule, and nothing is stored', async () => {
    const ok = await create({ sync_schedule: 'rate(5 minutes)' });
    const id = ok.json.id;
    const listed = async () => (await api('GET', `/api/storages/localfiles?project=${projectId}`)).json.length;
    const count = await listed();
    scheduler.failing = true;
    try {
      const refused = await create({ sync_schedule: 'rate(10 minutes)' });
      expect(refused.status).toBe(502);
      expect(refused.json.detail).toMatch(/sync schedule labelsync-test-storage-\d+ could not be saved/);
      expect(await listed()).toBe(count);

      const patch = await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: 'rate(2 hours)' });
      expect(patch.status).toBe(502);
      expect((await api('GET', `/api/storages/localfiles/${id}`)).json.sync_schedule).toBe('rate(5 minutes)');

      const del = await api('DELETE', `/api/storages/localfiles/${id}`);
      expect(del.status).toBe(502);
      expect(del.json.detail).toContain(`labelsync-test-storage-${id}`);
      expect((await api('GET', `/api/storages/localfiles/${id}`)).status).toBe(200);
    } finally {
      scheduler.failing = false;
    }
  });

  it('without a configured scheduler a schedule is refused (502), and storages without one still save', async () => {
    patchApp({ syncScheduler: undefined });
    try {
      const refused = await create({ sync_schedule: 'rate(5 minutes)' });
      expect(refused.status).toBe(502);
      expect(refused.json.detail).toContain('no scheduler is configured');
      expect((await create()).status).toBe(201);
    } finally {
      patchApp({ syncScheduler: scheduler });
    }
  });

  it("deleting a project removes its import storages' schedules", async () => {
    const p = (await apiP('POST', '/api/projects', { title: 'doomed' })).json.id;
    const a = (await create({ sync_schedule: 'rate(5 minutes)' }, p)).json.id;
    const b = (await create({}, p)).json.id;
    expect((await apiP('DELETE', `/api/projects/${p}`)).status).toBe(204);
    expect(scheduler.calls).toContain(`remove ${a}`);
    expect(scheduler.calls).toContain(`remove ${b}`);
  });
});

describe('sync_schedule: scheduled runs', () => {
  const startsOf = (id: number) => starter.starts.filter((s) => s.storageId === id).length;
  const finish = (id: number, jobId: string) => updateStorageStatus(processApp().db, id, { status: 'completed' }, { jobId });

  it('a run requests a normal full sync; a run while it is queued is skipped and counted, never queued twice', async () => {
    const id = (await create({ sync_schedule: 'rate(5 minutes)' })).json.id;
    expect(await scheduledSync({ storageId: id })).toEqual({ outcome: 'queued' });
    expect(startsOf(id)).toBe(1);
    const queued = await getStorage(processApp().db, id);
    expect(queued).toMatchObject({ status: 'queued', scheduled_runs: 1 });
    expect(starter.starts.at(-1)).toMatchObject({ storageId: id, role: 'import', jobId: queued!.last_sync_job });

    expect(await scheduledSync({ storageId: id })).toEqual({ outcome: 'skipped' });
    expect(startsOf(id)).toBe(1);
    const m = await meta(id);
    expect(m).toMatchObject({ scheduled_runs: 1, scheduled_runs_skipped: 1, attempts: 1 });
    expect(typeof m.last_scheduled_run_at).toBe('string');

    // The counters survive the sync's own meta being replaced when it finishes.
    await finish(id, queued!.last_sync_job!);
    await updateStorageStatus(processApp().db, id, { meta: { time_completed: 'x' } }, {});
    expect(await meta(id)).toMatchObject({ scheduled_runs: 1, scheduled_runs_skipped: 1, time_completed: 'x' });
  });

  it('of concurrent runs after a sync finished exactly one queues the next', async () => {
    const id = (await create({ sync_schedule: 'rate(5 minutes)' })).json.id;
    await runScheduledSync({ requestSync: processApp().requestSyncDeps(), scheduler }, id);
    await finish(id, (await getStorage(processApp().db, id))!.last_sync_job!);
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => runScheduledSync({ requestSync: processApp().requestSyncDeps(), scheduler }, id)));
    expect(outcomes.filter((o) => o === 'queued')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'skipped')).toHaveLength(3);
    expect(startsOf(id)).toBe(2);
    expect(await meta(id)).toMatchObject({ scheduled_runs: 2, scheduled_runs_skipped: 3 });
  });

  it('a run the storage refuses is counted as failed with the reason; the schedule stays', async () => {
    const id = (await create({ sync_schedule: 'rate(5 minutes)', synchronizable: false })).json.id;
    expect(await scheduledSync({ storageId: id })).toEqual({ outcome: 'failed' });
    expect(await meta(id)).toMatchObject({ scheduled_runs_failed: 1, last_scheduled_run_error: `Storage ${id} is not synchronizable` });
    expect(scheduler.calls).not.toContain(`remove ${id}`);
  });

  it('a run for a storage that is gone or no longer scheduled removes its schedule', async () => {
    const id = (await create({ sync_schedule: 'rate(5 minutes)' })).json.id;
    await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: null });
    scheduler.calls = [];
    expect(await scheduledSync({ storageId: id })).toEqual({ outcome: 'gone' });
    expect(await scheduledSync({ storageId: 987654321 })).toEqual({ outcome: 'gone' });
    expect(scheduler.calls).toEqual([`remove ${id}`, 'remove 987654321']);
    expect(startsOf(id)).toBe(0);
    expect(await scheduledSync({ storageId: 'x' })).toEqual({ outcome: 'invalid' });
  });
});

/** A clock the test moves: timers fire in order as `advance` passes them. */
class ManualClock implements ScheduleClock {
  private t = Date.parse('2026-03-04T10:00:30.000Z');
  private timers = new Map<number, { at: number; fn: () => void }>();
  private ids = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    this.timers.set(++this.ids, { at: this.t + ms, fn });
    return this.ids;
  };
  clearTimeout = (h: unknown) => void this.timers.delete(h as number);
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const due = [...this.timers].filter(([, x]) => x.at <= target).sort(([, a], [, b]) => a.at - b.at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = target;
  }
}

describe('sync_schedule: the local timer (npm start)', () => {
  it('fires scheduledSync on the schedule, survives a restart, and stops when removed', async () => {
    const id = (await create()).json.id;
    await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: 'rate(1 minute)' });
    const clock = new ManualClock();
    const runs: Promise<unknown>[] = [];
    const timer = new LocalSyncScheduler({ db: () => processApp().db, run: (storageId) => (runs.push(scheduledSync({ storageId })), runs.at(-1)!), log: () => undefined, clock });
    await timer.put(id, 'rate(1 minute)');
    expect(timer.nextFireOf(id)?.toISOString()).toBe('2026-03-04T10:01:30.000Z');

    clock.advance(59_000);
    expect(runs).toHaveLength(0);
    clock.advance(1_000);
    expect(runs).toHaveLength(1);
    expect(await runs[0]).toEqual({ outcome: 'queued' });
    clock.advance(60_000);
    expect(await runs[1]).toEqual({ outcome: 'skipped' });
    expect(await meta(id)).toMatchObject({ scheduled_runs: 1, scheduled_runs_skipped: 1 });

    // A restart re-arms from the table, on the same one-minute grid.
    timer.stop();
    const restarted = new LocalSyncScheduler({ db: () => processApp().db, run: async () => undefined, log: () => undefined, clock });
    expect(await restarted.start()).toBeGreaterThanOrEqual(1);
    expect(restarted.nextFireOf(id)?.toISOString()).toBe('2026-03-04T10:03:30.000Z');
    await restarted.remove(id);
    expect(restarted.nextFireOf(id)).toBeUndefined();
    const stored: number[] = [];
    for await (const s of listLocalSchedules(processApp().db)) stored.push(s.storageId);
    expect(stored).not.toContain(id);
    restarted.stop();
  });

  it('a cron fires at its next UTC minute and again the next day', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const timer = new LocalSyncScheduler({ db: () => processApp().db, run: async (storageId) => void fired.push(clock.now()), log: () => undefined, clock });
    await timer.put(424242, 'cron(15 12 * * ? *)');
    clock.advance(3 * 3_600_000);
    clock.advance(24 * 3_600_000);
    expect(fired.map((t) => new Date(t).toISOString())).toEqual(['2026-03-04T12:15:00.000Z', '2026-03-05T12:15:00.000Z']);
    await timer.remove(424242);
    timer.stop();
  });
});
