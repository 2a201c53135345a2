/**
 * `npm start`'s progress lines: every few seconds one line per running sync execution, from the
 * progress the sync steps keep in the storage's meta (what GET /api/storages/... shows):
 * `sync s3/12 project 3: listed 20000, processed 7000/20000 (35%), ETA 41s`. Until the listing is
 * complete the total, percent and ETA are unknown (`?`).
 */
import type { StorageItem } from '../shared/db/items';
import type { Db } from '../shared/db/repo-common';
import { progressName, type JobItem } from '../shared/db/repo-jobs';
import { getStorage } from '../shared/db/repo-storages';
import type { SyncExecutionInput } from '../shared/sync/starter';

export const PROGRESS_EVERY_MS = 5_000;

/** The progress line of a storage. */
export function progressLine(storage: Pick<StorageItem, 'type' | 'id' | 'projectId' | 'meta'>, role: JobItem['role'] = 'import'): string {
  const meta = (storage.meta ?? {}) as Record<string, unknown>;
  const num = (name: string): number | undefined => {
    const v = meta[progressName(role, name)];
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  };
  const show = (v: number | undefined, unit = '') => (v === undefined ? '?' : `${v}${unit}`);
  return (
    `${role === 'export' ? 'export sync' : 'sync'} ${storage.type}/${storage.id} project ${storage.projectId}: listed ${num('objects_listed') ?? 0}, ` +
    `processed ${num('objects_processed') ?? 0}/${show(num('objects_total'))} (${show(num('percent'), '%')}), ETA ${show(num('eta_seconds'), 's')}`
  );
}

export interface ProgressReporterOptions {
  /** The sync executions running now. */
  running: () => SyncExecutionInput[];
  db: Db;
  log: (line: string) => void;
  /** @default {@link PROGRESS_EVERY_MS} */
  everyMs?: number;
}

/** Prints the progress lines every `everyMs` while started. */
export class ProgressReporter {
  private timer: ReturnType<typeof setInterval> | undefined;
  private reporting: Promise<void> | undefined;

  constructor(private readonly opts: ProgressReporterOptions) {}

  start(): this {
    this.timer ??= setInterval(() => {
      // A slow table must not stack reports.
      this.reporting ??= this.report().finally(() => (this.reporting = undefined));
    }, this.opts.everyMs ?? PROGRESS_EVERY_MS);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.reporting;
  }

  /** Logs one line per running execution whose storage still runs this job. */
  async report(): Promise<void> {
    const jobs = this.opts.running();
    const storages = await Promise.all(jobs.map((j) => getStorage(this.opts.db, j.storageId, { consistent: false }).catch(() => undefined)));
    storages.forEach((s, i) => {
      if (s && s.last_sync_job === jobs[i].jobId) this.opts.log(progressLine(s, jobs[i].role));
    });
  }
}
