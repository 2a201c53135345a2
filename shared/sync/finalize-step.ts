/**
 * Last step of a sync job (also reached through the state machine's catch-all with the error):
 * repairs chunks that reserved ids but never finished, sweeps links of objects that are gone
 * (unordered providers, when deletions are acted upon and the listing completed), and writes the
 * final status, counters and meta to the storage — only if the job is still the storage's job.
 * A deleted storage loses its links here.
 */
import { batchWrite } from '../db/repo-common';
import { keys } from '../db/keys';
import { chunkPlans, unfinishedPlannedChunks } from '../db/repo-chunks';
import { deleteLinks, getLinks, linksNotTouchedBy, putLinks, type LinkItem } from '../db/repo-links';
import { setLastSyncRun } from '../db/repo-digests';
import { dropImportState } from '../db/repo-import-state';
import { getJob, type JobItem } from '../db/repo-jobs';
import { listFailures, type SyncFailure } from '../db/repo-sync-failures';
import { pyTime, writeStorageSyncState } from '../db/repo-storage-sync-state';
import { dropRuns, getRuns, loadPagedLinks } from '../db/repo-link-pages';
import type { StorageItem } from '../db/items';
import type { SyncStatus } from '../db/items';
import type { SyncDeps } from './deps';
import { getProject } from '../db/repo-projects';
import { storageSyncEvent } from '../webhooks/events';
import { applyGoneDeletions, removesAnnotated, type DeletionCounts } from './import-chunk/apply-deletions';
import { emitTasksDeleted } from './task-events';
import { readStorage } from './job-context';
import { drainPendingEvents } from './object-events';
import { getLogger } from '../logging';
import { STORAGE_SECRET_FIELDS } from '../storage/backends';

export interface FinalizeStepInput {
  storageId: number;
  jobId: string;
  role: 'import' | 'export';
  /** Step Functions' error of a failed step, null on success. */
  error?: { Error?: string; Cause?: string } | null;
}

export interface FinalizeStepResult {
  status: SyncStatus | 'cancelled' | 'superseded';
}

/** Storage fields that hold secrets (values are scrubbed from tracebacks): every type's. */
const SECRET_FIELDS = [...STORAGE_SECRET_FIELDS];

/** A readable, secret-free sentence for a failed step. */
export function tracebackOf(error: { Error?: string; Cause?: string }, secrets: string[]): string {
  let text = error.Cause ?? '';
  let name = error.Error ?? 'Error';
  try {
    const c = JSON.parse(text) as { errorType?: string; errorMessage?: string };
    if (c && typeof c === 'object' && (c.errorMessage || c.errorType)) {
      name = c.errorType ?? name;
      text = c.errorMessage ?? '';
    }
  } catch {
    /* Cause is plain text */
  }
  let out = `${name}: ${text}`.trim();
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  // Step Functions caps Cause anyway; keep the storage item small.
  return out.slice(0, 4_000);
}

/** Secret values of a storage's config, to scrub from tracebacks. */
export async function secretValues(deps: SyncDeps, storage: StorageItem): Promise<string[]> {
  try {
    const config = await deps.storageConfig(storage);
    return SECRET_FIELDS.map((f) => config[f]).filter((v): v is string => typeof v === 'string' && v !== '');
  } catch {
    return [];
  }
}

/** Deletes tasks/annotations a chunk wrote under its plan but never linked (the chunk failed for good). */
async function repairUnfinished(deps: SyncDeps, storageId: number, jobId: string): Promise<number> {
  let repaired = 0;
  // The live runs cannot change while this job finalizes: read them once, and only if needed.
  let runs: Promise<string[]> | undefined;
  for await (const chunk of unfinishedPlannedChunks(deps.db, jobId)) {
    const { objects } = chunkPlans(chunk);
    const links = chunk.ordered
      ? (await loadPagedLinks(deps.db, storageId, await (runs ??= getRuns(deps.db, storageId)), chunk.from, chunk.to)).links
      : await getLinks(deps.db, storageId, Object.keys(objects));
    const deletes: { DeleteRequest: { Key: Record<string, unknown> } }[] = [];
    for (const [key, [t, tn, a, an]] of Object.entries(objects)) {
      const link = links.get(key) as (LinkItem & { chunk?: number }) | undefined;
      if (link && link.jobId === jobId && link.chunk === chunk.n) continue; // linked: the writes completed
      for (let i = 0; i < tn; i++) deletes.push({ DeleteRequest: { Key: keys.task(t + i) } });
      for (let i = 0; i < an; i++) deletes.push({ DeleteRequest: { Key: keys.annotation(a + i) } });
      repaired++;
    }
    await batchWrite(deps.db, deletes);
  }
  return repaired;
}

/** Mark-and-sweep of unordered providers: links this job did not touch belong to gone objects. */
async function sweep(deps: SyncDeps, storage: StorageItem, job: JobItem): Promise<DeletionCounts> {
  const out: DeletionCounts = { removed: 0, flagged: 0, flaggedAnnotated: 0 };
  const mode = job.sync_deletions;
  for await (const page of linksNotTouchedBy(deps.db, storage.id, job.jobId)) {
    const gone = page.filter((l) => !(mode === 'flag' && l.object_exists === false));
    const r = await applyGoneDeletions(deps, gone, mode, removesAnnotated(storage));
    out.removed += r.removed;
    out.flagged += r.flagged;
    out.flaggedAnnotated += r.flaggedAnnotated;
    await emitTasksDeleted(deps, storage.projectId, r.removedIds, `sync-${job.jobId}-sweep-${r.removedIds[0]}`);
    await deleteLinks(deps.db, storage.id, r.go.map((l) => l.key));
    await putLinks(deps.db, r.stay);
  }
  return out;
}

/**
 * Link-page runs after an ordered import (shared/db/repo-link-pages.ts): a clean job that skipped
 * no chunk rewrote every range, so every older run goes; a job that wrote no chunk at all (an
 * unchanged re-sync) leaves its empty runs nowhere. Otherwise all runs stay (older ones still hold
 * the ranges this job skipped or failed).
 */
async function compactRuns(deps: SyncDeps, storageId: number, job: JobItem, clean: boolean): Promise<void> {
  const own = (run: string) => run.startsWith(`${job.jobId}~`);
  if (clean && job.chunks_unchanged === 0) await dropRuns(deps.db, storageId, (run) => !own(run));
  else if (clean && job.chunks === job.chunks_unchanged) await dropRuns(deps.db, storageId, own);
}

/** Runs the final step; never throws for job-level problems (they become the storage's status). */
export async function finalizeStep(deps: SyncDeps, input: FinalizeStepInput): Promise<FinalizeStepResult> {
  const storage = await readStorage(deps.db, input.storageId);
  if (!storage || storage.cancelled) {
    if (input.role === 'import') await dropImportState(deps.db, input.storageId);
    return { status: 'cancelled' };
  }
  if (storage.last_sync_job !== input.jobId) return { status: 'superseded' };

  const repaired = input.role === 'import' ? await repairUnfinished(deps, input.storageId, input.jobId) : 0;
  let job = await getJob(deps.db, input.jobId);
  const error = input.error ?? undefined;
  const unprocessed = job ? Math.max(0, job.listed - job.processed) : 0;
  let swept: DeletionCounts = { removed: 0, flagged: 0, flaggedAnnotated: 0 };
  if (job && !error && input.role === 'import' && sweepsDeletions(job, unprocessed)) swept = await sweep(deps, storage, job);
  job = (await getJob(deps.db, input.jobId)) ?? job;

  const failures: SyncFailure[] = job ? await listFailures(deps.db, input.jobId) : [];
  const outcome: JobOutcome = { job, error, unprocessed, repaired, swept, failures, failedCount: (job?.failed ?? 0) + unprocessed };
  // An export whose target kept refusing writes to the end failed, whatever it managed before.
  const failed = !!error || (input.role === 'export' && deps.exporter.targetFailing(storage));
  const status: SyncStatus = failed ? 'failed' : outcome.failedCount > 0 ? 'completed_with_errors' : 'completed';
  const now = new Date();
  const traceback = error ? tracebackOf(error, await secretValues(deps, storage)) : failuresTraceback(outcome);
  const meta = input.role === 'export' ? exportSyncMeta(outcome, failed, now) : syncMeta(outcome, now);
  // Chunk digests of this job may be trusted by the next one only if it ran to the end.
  if (input.role === 'import') {
    const clean = !error && !!job && !!(job as JobItem & { listDone?: boolean }).listDone && unprocessed === 0;
    await setLastSyncRun(deps.db, input.storageId, input.jobId, clean);
    if (job?.ordered) await compactRuns(deps, input.storageId, job, clean);
  }
  const c = job ?? ({} as Partial<JobItem>);
  const written = await writeStorageSyncState(
    deps.db,
    input.storageId,
    { set: { status, ...(failed ? {} : { last_sync: now.toISOString(), last_sync_count: c.created ?? 0 }), traceback }, metaEntries: meta },
    { jobId: input.jobId },
  );
  if (written) await emitSyncOutcome(deps, written, { jobId: input.jobId, status, meta, traceback, failures });
  if (input.role === 'import') await applyDeferredEvents(deps, input.storageId);
  return { status };
}

/** STORAGE_SYNC_COMPLETED / STORAGE_SYNC_FAILED with the run's counters and errors. */
async function emitSyncOutcome(
  deps: SyncDeps,
  storage: StorageItem,
  run: { jobId: string; status: SyncStatus; meta: Record<string, unknown>; traceback: string | null; failures: SyncFailure[] },
): Promise<void> {
  if (!deps.events) return;
  const { failures: _f, ...counters } = run.meta;
  const errors = [...run.failures.map((f) => ({ key: f.key, reason: f.reason })), ...(run.status === 'failed' && run.traceback ? [{ reason: run.traceback }] : [])];
  const project = await getProject(deps.db, storage.projectId);
  await deps.events.emit(storageSyncEvent(storage, project, { job_id: run.jobId, status: run.status, counters, errors, traceback: run.traceback }));
}

/** Object events that waited for this job (shared/sync/object-events/); a failure leaves them for the next event call. */
async function applyDeferredEvents(deps: SyncDeps, storageId: number): Promise<void> {
  try {
    await drainPendingEvents(deps, storageId);
  } catch (e) {
    getLogger('sync').warn('deferred object events not applied yet', { storageId, error: e as Error });
  }
}

/** What the job left behind, as the final status and meta see it. */
interface JobOutcome {
  job: JobItem | undefined;
  error: { Error?: string; Cause?: string } | undefined;
  /** Listed objects no chunk processed (a chunk failed after its retries). */
  unprocessed: number;
  /** Objects whose partial writes were undone. */
  repaired: number;
  swept: DeletionCounts;
  failures: SyncFailure[];
  failedCount: number;
}

/** Gone objects can be swept only when the whole listing was seen and every object processed. */
function sweepsDeletions(job: JobItem, unprocessed: number): boolean {
  return !job.ordered && job.sync_deletions !== 'keep' && !!(job as JobItem & { listDone?: boolean }).listDone && unprocessed === 0;
}

/** The traceback of a job that ran to the end: its failures, or null without any. */
function failuresTraceback({ job, failures, failedCount, unprocessed, repaired }: JobOutcome): string | null {
  if (!failedCount) return null;
  const lines = failures.map((f) => `${f.key}: ${f.reason}`);
  if (unprocessed) lines.push(`${unprocessed} objects were not processed: a chunk failed after its retries${repaired ? ` (${repaired} partial writes undone)` : ''}`);
  const more = (job?.failed ?? 0) - failures.length;
  if (more > 0) lines.push(`... and ${more} more failures`);
  return lines.join('\n');
}

/** Label Studio's end time (`time_completed` or `time_failure`) and `duration` (seconds) of a run. */
function runTimes(job: JobItem | undefined, failed: boolean, now: Date): Record<string, unknown> {
  const started = job ? Date.parse(job.created_at) : now.getTime();
  return { [failed ? 'time_failure' : 'time_completed']: pyTime(now), duration: Math.max(0, (now.getTime() - started) / 1000) };
}

function syncMeta({ job, error, swept, failures, failedCount }: JobOutcome, now: Date): Record<string, unknown> {
  const c = job ?? ({} as Partial<JobItem>);
  const meta: Record<string, unknown> = {
    ...runTimes(job, !!error, now),
    objects_listed: c.listed ?? 0,
    objects_processed: c.processed ?? 0,
    // Final progress: a job that ran to the end is done, whatever failed on the way.
    objects_total: c.listed ?? 0,
    percent: error ? Math.min(100, Math.floor(((c.processed ?? 0) * 100) / Math.max(1, c.listed ?? 0))) : 100,
    eta_seconds: error ? null : 0,
    tasks_created: c.created ?? 0,
    tasks_updated: c.updated ?? 0,
    tasks_removed: (c.removed ?? 0) + swept.removed,
    tasks_flagged: (c.flagged ?? 0) + swept.flagged,
    tasks_flagged_annotated: (c.flagged_annotated ?? 0) + swept.flaggedAnnotated,
    objects_unchanged: c.unchanged ?? 0,
    objects_failed: failedCount,
    objects_skipped_export: c.skipped_export ?? 0,
    annotations_created: c.annotations ?? 0,
    chunks: c.chunks ?? 0,
    chunks_unchanged: c.chunks_unchanged ?? 0,
    tasks_existed: c.unchanged ?? 0,
    failures,
  };
  if (failedCount && !error) meta.tasks_failed_validation = failedCount;
  if (c.hard_links_skipped) meta.hard_links_skipped = c.hard_links_skipped;
  return meta;
}

/**
 * An export sync's meta: Label Studio's `total_annotations` (every annotation of the project was
 * listed) and times, and counts named for annotations (not the import's task/object counters).
 */
function exportSyncMeta({ job, failures, failedCount }: JobOutcome, failed: boolean, now: Date): Record<string, unknown> {
  const c = job ?? ({} as Partial<JobItem>);
  return {
    ...runTimes(job, failed, now),
    total_annotations: c.listed ?? 0,
    annotations_exported: c.created ?? 0,
    annotations_failed: failedCount,
    chunks: c.chunks ?? 0,
    failures,
  };
}
