/**
 * The stream use case: a batch of DynamoDB stream records in, the sequence numbers to retry out
 * (Lambda's ReportBatchItemFailures contract; the local poller honours the same one).
 *
 * Records are grouped per annotation, in order. A group is handled as one change: a REMOVE in it
 * wins (ids are never reused), otherwise the annotation is re-read from the table and its newest
 * version written to every target (a stale or repeated record thus costs at most a skipped write).
 * Groups run concurrently; targets of one annotation run concurrently, each with its own outcome.
 * A group with a target that failed transiently (timeout, 5xx, throttle) fails as a whole: all its
 * records are reported, so the stream retries from its first record and targets already at that
 * version skip by the version guard. A target that failed for a configuration reason (credentials
 * refused, bucket missing, endpoint refused: `isConfigurationFailure`) does not fail the records:
 * the annotation is recorded as a failure and the scheduled replay retries it, so one tenant's
 * bad target does not hold its shard in retries and bisection.
 * A target that fails in a batch is not tried again in the same batch (a down endpoint costs one
 * timeout per batch, not one per record). Failed annotations are also recorded in the table
 * (shared/db/repo-export-failures.ts) so a DLQ replay can re-export them after the stream records expired.
 * When the batch is done, what it wrote, removed and failed is added to each target's counters,
 * one update per target (shared/export/target-counters.ts).
 */
import { mapLimit } from '../storage/common';
import { getLogger } from '../logging';
import { ExportSourceLoader } from './source';
import { decodeAnnotationRecord, type AnnotationChange, type StreamRecordLike } from './stream-record';
import { clearTargetFailure, isConfigurationFailure, reportTargetFailure, type ExportTarget } from './targets';
import { deleteAnnotationFromTarget, writeAnnotationToTarget, type TargetOutcome } from './write-target';
import { DEFAULT_EXPORT_CONCURRENCY, type ExportDeps } from './deps';
import { recordExportFailure, type ExportFailure } from '../db/repo-export-failures';
import { addTargetCounts, TargetTally } from './target-counters';

/** Result of one batch. */
export interface BatchResult {
  /** Sequence numbers to report as `batchItemFailures`, in record order. */
  failures: string[];
  /**
   * Sequence numbers of changes not delivered to a target that failed for a configuration reason:
   * recorded as export failures (for the scheduled replay) instead of being reported.
   */
  recorded: string[];
  /** Annotation changes handled (groups), and records ignored as not about annotations. */
  annotations: number;
  ignored: number;
  /** Per outcome, summed over annotations × targets. */
  outcomes: Record<TargetOutcome | 'failed', number>;
}

export interface Group {
  annotationId: number;
  projectId: number;
  changes: AnnotationChange[];
}

/** The failure record of a group: its annotation, its last version, `remove` if a REMOVE is in it (it wins). */
export function failureOf(g: Group): Omit<ExportFailure, 'failed_at'> {
  const last = g.changes[g.changes.length - 1];
  const op = g.changes.some((c) => c.op === 'remove') ? 'remove' : 'upsert';
  return { annotationId: g.annotationId, projectId: g.projectId, op, version: last.version };
}

/** Groups decoded changes per annotation, keeping the order of first appearance. */
export function groupChanges(changes: readonly AnnotationChange[]): Group[] {
  const groups = new Map<number, Group>();
  for (const c of changes) {
    let g = groups.get(c.annotationId);
    if (!g) groups.set(c.annotationId, (g = { annotationId: c.annotationId, projectId: c.projectId, changes: [] }));
    g.changes.push(c);
  }
  return [...groups.values()];
}

/**
 * Handles one batch of stream records.
 * Never throws for a record-level problem (those become failures); throws only if the batch
 * itself cannot be processed (then the whole batch is retried).
 */
export async function processAnnotationRecords(deps: ExportDeps, records: readonly StreamRecordLike[]): Promise<BatchResult> {
  const log = getLogger('export');
  const failed = new Set<string>();
  const changes: AnnotationChange[] = [];
  let ignored = 0;
  for (const r of records) {
    try {
      const c = decodeAnnotationRecord(r);
      if (c) changes.push(c);
      else ignored++;
    } catch (e) {
      const seq = r.dynamodb?.SequenceNumber;
      if (!seq) throw e;
      log.error('undecodable stream record', { sequenceNumber: seq, error: (e as Error).message });
      failed.add(seq);
    }
  }
  const result = await processAnnotationChanges(deps, changes);
  for (const seq of result.failures) failed.add(seq);
  result.failures = [];
  for (const r of records) {
    const seq = r.dynamodb?.SequenceNumber;
    if (seq && failed.has(seq)) result.failures.push(seq);
  }
  result.recorded = result.recorded.filter((seq) => !failed.has(seq));
  result.ignored = ignored;
  return result;
}

/**
 * Handles decoded changes (the stream batch, or a replay of recorded failures): same grouping,
 * per-target outcomes and failure recording as `processAnnotationRecords`; `failures` lists the
 * `sequenceNumber`s of the changes that failed.
 */
export async function processAnnotationChanges(deps: ExportDeps, changes: readonly AnnotationChange[]): Promise<BatchResult> {
  const run = new ChangeBatch(deps);
  const groups = groupChanges(changes);
  run.result.annotations = groups.length;
  await mapLimit(groups, deps.concurrency ?? DEFAULT_EXPORT_CONCURRENCY, (g) => run.exportGroup(g));
  await run.flushCounts();
  for (const c of changes) {
    if (run.failed.has(c.sequenceNumber)) run.result.failures.push(c.sequenceNumber);
    else if (run.recorded.has(c.sequenceNumber)) run.result.recorded.push(c.sequenceNumber);
  }
  return run.result;
}

/** How one annotation (or one target of it) came out: delivered, failed for good until reconfigured, or to retry. */
type Delivery = 'ok' | 'misconfigured' | 'failed';

/** The state one batch shares across its groups: targets per project, targets broken in this batch. */
class ChangeBatch {
  readonly result: BatchResult = { failures: [], recorded: [], annotations: 0, ignored: 0, outcomes: { written: 0, up_to_date: 0, deleted: 0, skipped: 0, failed: 0 } };
  /** Sequence numbers of the changes that failed. */
  readonly failed = new Set<string>();
  /** Sequence numbers of the changes recorded as failures instead (misconfigured targets only). */
  readonly recorded = new Set<string>();
  private readonly log = getLogger('export');
  private readonly loader: ExportSourceLoader;
  private readonly targetsOf = new Map<number, Promise<ExportTarget[]>>();
  private readonly broken = new Map<number, unknown>();
  private readonly reported = new Set<number>();
  private readonly tally = new TargetTally();
  private readonly now: () => Date;

  constructor(private readonly deps: ExportDeps) {
    this.loader = new ExportSourceLoader(deps.db);
    this.now = deps.now ?? (() => new Date());
  }

  /** Exports one annotation's changes; on failure marks its records failed and records the failure. */
  async exportGroup(g: Group): Promise<void> {
    let delivery: Delivery = 'failed';
    try {
      delivery = await this.handle(g);
    } catch (e) {
      this.log.error('annotation export failed', { annotationId: g.annotationId, error: (e as Error).message });
    }
    if (delivery === 'ok') return;
    const recorded = await this.recordGroupFailure(g);
    // Records of a misconfigured target are done once their failure is recorded; if even that
    // failed, the stream must retry them or they are lost.
    const into = delivery === 'misconfigured' && recorded ? this.recorded : this.failed;
    for (const c of g.changes) into.add(c.sequenceNumber);
  }

  /**
   * Adds the batch's outcomes to each target's counters. A counter update that still fails after
   * its retries is logged, not reported: retrying the records would redo their exports only to
   * count them, and count again what the retry redoes.
   */
  async flushCounts(): Promise<void> {
    const now = this.now();
    await Promise.all(
      this.tally.entries().map(([storageId, counts]) =>
        addTargetCounts(this.deps.db, storageId, counts, now).catch((e) =>
          this.log.error('could not update the target counters', { storageId, ...counts, error: (e as Error).message }),
        ),
      ),
    );
  }

  /** Records the annotation as failed (shared/db/repo-export-failures.ts); false when that write failed. */
  private async recordGroupFailure(g: Group): Promise<boolean> {
    try {
      await recordExportFailure(this.deps.db, failureOf(g));
      return true;
    } catch (e) {
      this.log.error('could not record the failed export', { annotationId: g.annotationId, error: (e as Error).message });
      return false;
    }
  }

  private targets(projectId: number): Promise<ExportTarget[]> {
    let p = this.targetsOf.get(projectId);
    if (!p) {
      p = this.deps.targets(projectId);
      p.catch(() => this.targetsOf.delete(projectId));
      this.targetsOf.set(projectId, p);
    }
    return p;
  }

  private async handle(g: Group): Promise<Delivery> {
    const { deps, loader } = this;
    const links = deps.links;
    const targets = await this.targets(g.projectId);
    if (!targets.length) return 'ok';
    const remove = g.changes.find((c) => c.op === 'remove');
    if (remove) {
      return worst(
        await Promise.all(
          targets.map((t) =>
            this.onTarget(t, 'remove', async () => deleteAnnotationFromTarget({ links, provider: await deps.provider(t.config) }, t, g.annotationId, remove.version)),
          ),
        ),
      );
    }
    const src = await loader.load(g.annotationId);
    if (!src) return 'ok'; // deleted since: its REMOVE record does the rest
    return worst(
      await Promise.all(
        targets.map((t) =>
          this.onTarget(t, 'upsert', async () =>
            writeAnnotationToTarget({ links, provider: await deps.provider(t.config), reload: (id) => loader.load(id), now: this.now }, t, src),
          ),
        ),
      ),
    );
  }

  /** Runs one target's write unless the target already failed in this batch. */
  private async onTarget(target: ExportTarget, op: 'upsert' | 'remove', run: () => Promise<TargetOutcome>): Promise<Delivery> {
    const { result, log } = this;
    if (this.broken.has(target.id)) {
      result.outcomes.failed++;
      this.tally.add(target.id, 'failed');
      return isConfigurationFailure(this.broken.get(target.id)) ? 'misconfigured' : 'failed';
    }
    try {
      const outcome = await run();
      result.outcomes[outcome]++;
      // An upsert's `deleted` means the annotation went meanwhile (its REMOVE does the counting).
      if (outcome === 'written') this.tally.add(target.id, 'exported');
      else if (outcome === 'deleted' && op === 'remove') this.tally.add(target.id, 'removed');
      if (outcome !== 'skipped') await clearTargetFailure(this.deps.db, target);
      return 'ok';
    } catch (e) {
      result.outcomes.failed++;
      this.tally.add(target.id, 'failed');
      this.broken.set(target.id, e);
      log.warn('export target failed', { storageId: target.id, error: (e as Error).message });
      if (!this.reported.has(target.id)) {
        this.reported.add(target.id);
        await reportTargetFailure(this.deps.db, target, e, this.deps.events).catch((err) =>
          log.error('could not record the target failure', { storageId: target.id, error: (err as Error).message }),
        );
      }
      return isConfigurationFailure(e) ? 'misconfigured' : 'failed';
    }
  }
}

/** The outcome of an annotation over its targets: any transient failure makes it retried. */
function worst(deliveries: readonly Delivery[]): Delivery {
  if (deliveries.includes('failed')) return 'failed';
  return deliveries.includes('misconfigured') ? 'misconfigured' : 'ok';
}
