/**
 * The stream use case: a batch of DynamoDB stream records in, the sequence numbers to retry out
 * (Lambda's ReportBatchItemFailures contract; the local poller honours the same one).
 *
 * Records are grouped per annotation, in order. A group is handled as one change: a REMOVE in it
 * wins (ids are never reused), otherwise the annotation is re-read from the table and its newest
 * version written to every target (a stale or repeated record thus costs at most a skipped write).
 * Groups run concurrently; targets of one annotation run concurrently, each with its own outcome.
 * A group with any failed target fails as a whole: all its records are reported, so the stream
 * retries from its first record and targets already at that version skip by the version guard.
 * A target that fails in a batch is not tried again in the same batch (a down endpoint costs one
 * timeout per batch, not one per record). Failed annotations are also recorded in the table
 * (shared/db/repo-export-failures.ts) so a DLQ replay can re-export them after the stream records expired.
 */
import { mapLimit } from '../storage/common';
import { getLogger } from '../logging';
import { ExportSourceLoader } from './source';
import { decodeAnnotationRecord, type AnnotationChange, type StreamRecordLike } from './stream-record';
import { clearTargetFailure, reportTargetFailure, type ExportTarget } from './targets';
import { deleteAnnotationFromTarget, writeAnnotationToTarget, type TargetOutcome } from './write-target';
import { DEFAULT_EXPORT_CONCURRENCY, type ExportDeps } from './deps';
import { recordExportFailure } from '../db/repo-export-failures';

/** Result of one batch. */
export interface BatchResult {
  /** Sequence numbers to report as `batchItemFailures`, in record order. */
  failures: string[];
  /** Annotation changes handled (groups), and records ignored as not about annotations. */
  annotations: number;
  ignored: number;
  /** Per outcome, summed over annotations × targets. */
  outcomes: Record<TargetOutcome | 'failed', number>;
}

interface Group {
  annotationId: number;
  projectId: number;
  changes: AnnotationChange[];
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
  result.ignored = ignored;
  return result;
}

/**
 * Handles decoded changes (the stream batch, or a replay of recorded failures): same grouping,
 * per-target outcomes and failure recording as `processAnnotationRecords`; `failures` lists the
 * `sequenceNumber`s of the changes that failed.
 */
export async function processAnnotationChanges(deps: ExportDeps, changes: readonly AnnotationChange[]): Promise<BatchResult> {
  const log = getLogger('export');
  const result: BatchResult = { failures: [], annotations: 0, ignored: 0, outcomes: { written: 0, up_to_date: 0, deleted: 0, skipped: 0, failed: 0 } };
  const failed = new Set<string>();
  const loader = new ExportSourceLoader(deps.db);
  const targetsOf = new Map<number, Promise<ExportTarget[]>>();
  const broken = new Map<number, unknown>();
  const reported = new Set<number>();
  const now = deps.now ?? (() => new Date());
  const links = deps.links;

  const onTarget = async (target: ExportTarget, run: () => Promise<TargetOutcome>): Promise<boolean> => {
    if (broken.has(target.id)) {
      result.outcomes.failed++;
      return false;
    }
    try {
      const outcome = await run();
      result.outcomes[outcome]++;
      if (outcome !== 'skipped') await clearTargetFailure(deps.db, target);
      return true;
    } catch (e) {
      result.outcomes.failed++;
      broken.set(target.id, e);
      log.warn('export target failed', { storageId: target.id, error: (e as Error).message });
      if (!reported.has(target.id)) {
        reported.add(target.id);
        await reportTargetFailure(deps.db, target, e).catch((err) =>
          log.error('could not record the target failure', { storageId: target.id, error: (err as Error).message }),
        );
      }
      return false;
    }
  };

  const handle = async (g: Group): Promise<boolean> => {
    let p = targetsOf.get(g.projectId);
    if (!p) {
      p = deps.targets(g.projectId);
      p.catch(() => targetsOf.delete(g.projectId));
      targetsOf.set(g.projectId, p);
    }
    const targets = await p;
    if (!targets.length) return true;
    const remove = g.changes.find((c) => c.op === 'remove');
    if (remove) {
      const ok = await Promise.all(
        targets.map((t) =>
          onTarget(t, async () => deleteAnnotationFromTarget({ links, provider: await deps.provider(t.config) }, t, g.annotationId, remove.version)),
        ),
      );
      return ok.every(Boolean);
    }
    const src = await loader.load(g.annotationId);
    if (!src) return true; // deleted since: its REMOVE record does the rest
    const ok = await Promise.all(
      targets.map((t) =>
        onTarget(t, async () =>
          writeAnnotationToTarget({ links, provider: await deps.provider(t.config), reload: (id) => loader.load(id), now }, t, src),
        ),
      ),
    );
    return ok.every(Boolean);
  };

  const groups = groupChanges(changes);
  result.annotations = groups.length;
  await mapLimit(groups, deps.concurrency ?? DEFAULT_EXPORT_CONCURRENCY, async (g) => {
    let ok = false;
    try {
      ok = await handle(g);
    } catch (e) {
      log.error('annotation export failed', { annotationId: g.annotationId, error: (e as Error).message });
    }
    if (!ok) {
      for (const c of g.changes) failed.add(c.sequenceNumber);
      const last = g.changes[g.changes.length - 1];
      const op = g.changes.some((c) => c.op === 'remove') ? 'remove' : 'upsert';
      await recordExportFailure(deps.db, { annotationId: g.annotationId, projectId: g.projectId, op, version: last.version }).catch((e) =>
        log.error('could not record the failed export', { annotationId: g.annotationId, error: (e as Error).message }),
      );
    }
  });

  for (const c of changes) if (failed.has(c.sequenceNumber)) result.failures.push(c.sequenceNumber);
  return result;
}
