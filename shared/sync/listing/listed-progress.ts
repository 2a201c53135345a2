/**
 * Live `objects_listed` of a running listing: the job's counter moves once per listing step (a
 * step lasts up to 20 s), so the step publishes its running count into the storage's meta itself,
 * time-based — at most one write per `everyMs`, never more than one in flight, and never waited
 * for by the listing (it goes on while the write runs).
 */
import type { Db } from '../../db/repo-common';
import { publishListed, type JobItem } from '../../db/repo-jobs';

/** How often a listing step publishes its count: the API shows listing progress within ~1 s. */
export const LISTED_EVERY_MS = 1_000;

export class ListedProgress {
  private last: number;
  private writing: Promise<void> | undefined;

  /**
   * @param before objects the job's earlier steps listed (the job's `listed` counter)
   * @param publish writes the count (tests count the writes)
   */
  constructor(
    private readonly before: number,
    private readonly publish: (listed: number) => Promise<void>,
    private readonly everyMs = LISTED_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  /** The step has listed `inStep` entries: publishes `before + inStep` when the last write is `everyMs` old. */
  tick(inStep: number): void {
    const now = this.now();
    if (this.writing || now - this.last < this.everyMs) return;
    this.last = now;
    // Advisory: a failed write (throttling past the SDK's retries) only delays the count; the
    // step's end writes the job's exact count anyway.
    this.writing = this.publish(this.before + inStep)
      .catch(() => undefined)
      .finally(() => (this.writing = undefined));
  }

  /** Waits for the write in flight, so a later write (the step's end) cannot be overtaken by it. */
  async settle(): Promise<void> {
    await this.writing;
  }
}

/**
 * The listing progress of step `step` of `job`, written into storage `storageId`'s meta. A retried
 * step whose counts the job already holds publishes nothing: its count would add to itself.
 */
export function listedProgress(db: Db, storageId: number, job: JobItem | undefined, step: number): ListedProgress {
  const counted = !job || (job.listedThrough ?? -1) >= step;
  return new ListedProgress(job?.listed ?? 0, counted ? async () => undefined : (listed) => publishListed(db, storageId, job, listed));
}
