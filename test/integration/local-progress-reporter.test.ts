/**
 * `npm start`'s progress reporter (local/progress-reporter.ts) against the test table: every
 * interval (fake setInterval, real DynamoDB) one line per running execution whose storage still
 * runs that job, from the progress in the storage's meta.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { processApp } from '../../shared/process-app';
import { updateStorageStatus } from '../../shared/db/repo-storage-sync-state';
import { ProgressReporter } from '../../local/progress-reporter';
import { newTenant, useTestEnvironment } from './api-harness';
import { newProject, newStorage } from './sync-helpers';

let orgId: string;

beforeAll(async () => {
  useTestEnvironment();
  ({ orgId } = await newTenant('progress-reporter'));
});

afterEach(() => {
  vi.useRealTimers();
});

/** An import storage running job `jobId` with `meta`. */
async function runningStorage(jobId: string, meta: Record<string, unknown>) {
  const projectId = await newProject(orgId);
  const s = await newStorage(orgId, projectId, { type: 'localfiles', role: 'import', path: '/tmp', recursive_scan: true, use_blob_urls: false });
  await updateStorageStatus(processApp().db, s.id, { status: 'in_progress', last_sync_job: jobId, meta });
  return { ...s, projectId };
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('npm start progress reporter', () => {
  it('prints one line per running sync every interval, none before it, none for a superseded job', async () => {
    const a = await runningStorage('job-a', { objects_listed: 20_000, objects_processed: 7_000, objects_total: 20_000, percent: 35, eta_seconds: 41 });
    const b = await runningStorage('job-b', { objects_listed: 325, objects_processed: 100 });
    const stale = await runningStorage('job-new', { objects_listed: 1 });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const lines: string[] = [];
    const running = [
      { storageId: a.id, jobId: 'job-a', role: 'import' as const },
      { storageId: b.id, jobId: 'job-b', role: 'import' as const },
      { storageId: stale.id, jobId: 'job-old', role: 'import' as const },
    ];
    const reporter = new ProgressReporter({ running: () => running, db: processApp().db, log: (l) => lines.push(l), everyMs: 5_000 }).start();
    try {
      vi.advanceTimersByTime(4_999);
      await new Promise((r) => setTimeout(r, 200));
      expect(lines).toEqual([]);
      vi.advanceTimersByTime(1);
      await until(() => lines.length >= 2);
      expect(lines.sort()).toEqual([
        `sync localfiles/${a.id} project ${a.projectId}: listed 20000, processed 7000/20000 (35%), ETA 41s`,
        `sync localfiles/${b.id} project ${b.projectId}: listed 325, processed 100/? (?), ETA ?`,
      ].sort());
      // The next interval reports again, with what the table says then; a finished sync drops out.
      running.splice(1);
      await updateStorageStatus(processApp().db, a.id, { meta: { objects_listed: 20_000, objects_processed: 10_000, objects_total: 20_000, percent: 50, eta_seconds: 20 } });
      lines.length = 0;
      vi.advanceTimersByTime(5_000);
      await until(() => lines.length >= 1);
      expect(lines).toEqual([`sync localfiles/${a.id} project ${a.projectId}: listed 20000, processed 10000/20000 (50%), ETA 20s`]);
    } finally {
      await reporter.stop();
    }
    vi.advanceTimersByTime(20_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(lines).toHaveLength(1);
  });
});
