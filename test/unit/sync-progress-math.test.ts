/**
 * Pure parts of live sync progress: the meta a job's counters give (total, percent, ETA from the
 * processing rate), how often a listing step publishes its count (fake clock), and the progress
 * line `npm start` prints.
 */
import { describe, expect, it } from 'vitest';
import { progressMeta, type JobItem } from '../../shared/db/repo-jobs';
import { ListedProgress } from '../../shared/sync/listing/listed-progress';
import { progressLine } from '../../local/progress-reporter';

const started = Date.parse('2026-01-01T00:00:00.000Z');
const job = (c: Partial<JobItem>) => ({ role: 'import' as const, listed: 0, processed: 0, created: 0, created_at: new Date(started).toISOString(), ...c });

describe('progress meta', () => {
  it('while listing: processed only (objects_listed is the listing step\'s), no total, percent or ETA', () => {
    expect(progressMeta(job({ listed: 3000, processed: 1000, created: 990 }), started + 10_000)).toEqual({ objects_processed: 1000, tasks_created: 990 });
  });

  it('once listed: total, floor percent and an ETA from the rate since the job started', () => {
    // 5,000 of 20,000 in 10 s: 500/s, 15,000 left → 30 s.
    expect(progressMeta(job({ listed: 20_000, processed: 5_000, listDone: true }), started + 10_000)).toEqual({
      objects_processed: 5_000, tasks_created: 0, objects_listed: 20_000, objects_total: 20_000, percent: 25, eta_seconds: 30,
    });
    // 1 of 3 in 7 s → 14 s left; 33.3 % shown as 33.
    expect(progressMeta(job({ listed: 3, processed: 1, listDone: true }), started + 7_000)).toMatchObject({ percent: 33, eta_seconds: 14 });
    // The ETA rounds up: never 0 while something is left.
    expect(progressMeta(job({ listed: 1000, processed: 999, listDone: true }), started + 1_000)).toMatchObject({ percent: 99, eta_seconds: 1 });
  });

  it('nothing processed yet: ETA unknown (null); everything processed or nothing listed: 100 %, ETA 0', () => {
    expect(progressMeta(job({ listed: 10, processed: 0, listDone: true }), started + 5_000)).toMatchObject({ percent: 0, eta_seconds: null });
    expect(progressMeta(job({ listed: 10, processed: 10, listDone: true }), started + 5_000)).toMatchObject({ percent: 100, eta_seconds: 0 });
    expect(progressMeta(job({ listed: 0, processed: 0, listDone: true }), started)).toMatchObject({ objects_total: 0, percent: 100, eta_seconds: 0 });
    // Unchanged objects are counted processed by the listing too: never above 100.
    expect(progressMeta(job({ listed: 10, processed: 12, listDone: true }), started + 1_000)).toMatchObject({ percent: 100, eta_seconds: 0 });
  });
});

describe('listing step count publishing', () => {
  it('writes at most once per interval, with the count of every step so far', async () => {
    let now = 0;
    const written: number[] = [];
    const p = new ListedProgress(1_000, async (n) => void written.push(n), 1_000, () => now);
    // 10 s of pages every 100 ms: one write a second.
    for (let i = 1; i <= 100; i++) {
      now = i * 100;
      p.tick(i * 25);
      await p.settle();
    }
    expect(written).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => 1_000 + s * 250));
  });

  it('never has two writes in flight: a slow write holds the next one back', async () => {
    let now = 0;
    let calls = 0;
    let release!: () => void;
    const p = new ListedProgress(0, () => {
      calls++;
      return new Promise<void>((r) => (release = r));
    }, 1_000, () => now);
    now = 1_000;
    p.tick(10);
    now = 5_000;
    p.tick(20);
    expect(calls).toBe(1);
    release();
    await p.settle();
    now = 6_000;
    p.tick(30);
    expect(calls).toBe(2);
    release();
    await p.settle();
  });

  it('a failed write neither throws into the listing nor stops later writes', async () => {
    let now = 0;
    let calls = 0;
    const p = new ListedProgress(0, async () => {
      calls++;
      throw new Error('throttled');
    }, 1_000, () => now);
    now = 1_000;
    p.tick(1);
    await p.settle();
    now = 2_000;
    p.tick(2);
    await p.settle();
    expect(calls).toBe(2);
  });
});

describe('npm start progress line', () => {
  it('shows listed, processed of total, percent and ETA once the listing is complete', () => {
    const meta = { objects_listed: 20_000, objects_processed: 7_000, objects_total: 20_000, percent: 35, eta_seconds: 41 };
    expect(progressLine({ type: 's3', id: 12, projectId: 3, meta })).toBe('sync s3/12 project 3: listed 20000, processed 7000/20000 (35%), ETA 41s');
  });

  it('while listing: total, percent and ETA unknown; a fresh job shows zeros', () => {
    expect(progressLine({ type: 'localfiles', id: 4, projectId: 1, meta: { objects_listed: 325, objects_processed: 100 } })).toBe(
      'sync localfiles/4 project 1: listed 325, processed 100/? (?), ETA ?',
    );
    expect(progressLine({ type: 'gcs', id: 5, projectId: 2, meta: { time_queued: 'x' } })).toBe('sync gcs/5 project 2: listed 0, processed 0/? (?), ETA ?');
    expect(progressLine({ type: 'gcs', id: 5, projectId: 2, meta: { objects_listed: 9, objects_processed: 0, objects_total: 9, percent: 0, eta_seconds: null } })).toBe(
      'sync gcs/5 project 2: listed 9, processed 0/9 (0%), ETA ?',
    );
  });
});
