/**
 * The last resort of a sync job: its state-machine execution ended FAILED, TIMED_OUT or ABORTED
 * without Finalize writing the storage's final status (Finalize itself failed, a terminal error such
 * as States.DataLimitExceeded skipped every Catch, the execution was stopped). Marks the storage
 * `failed` with a traceback naming the execution's error, only while the storage is still
 * `queued`/`in_progress` for that job: idempotent, and it never overwrites what Finalize or a
 * newer job wrote. Deployed behind an EventBridge rule (lib/constructs/sync-failure-rule.ts); the
 * local runtime calls it when a local execution fails.
 */
import type { StorageItem } from '../db/items';
import { pyTime, writeStorageSyncState } from '../db/repo-storage-sync-state';
import type { SyncDeps } from './deps';
import { getProject } from '../db/repo-projects';
import { storageSyncEvent } from '../webhooks/events';
import { secretValues, tracebackOf } from './finalize-step';
import { readStorage } from './job-context';
import type { SyncExecutionInput } from './starter';

export type ExecutionEndStatus = 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** `detail` of EventBridge's "Step Functions Execution Status Change" event (the fields used here). */
export interface ExecutionStatusDetail {
  executionArn: string;
  name?: string;
  status: string;
  /** The execution's input as a JSON string. */
  input?: string | null;
  error?: string | null;
  cause?: string | null;
}

export type ExecutionFailedResult = { marked: true; storageId: number; jobId: string } | { marked: false; reason: string };

const END_STATUSES: readonly string[] = ['FAILED', 'TIMED_OUT', 'ABORTED'];

/** The job an execution ran, or why the event is not about a sync job. */
function jobOf(detail: ExecutionStatusDetail): SyncExecutionInput | string {
  if (!END_STATUSES.includes(detail.status)) return `status ${detail.status} is not a failure`;
  // A Distributed Map child's ARN is `…:execution:<machine>/<map label>:<name>`: a chunk, tolerated.
  if (/:execution:[^:]+\//.test(detail.executionArn)) return 'a chunk map child execution';
  let input: Partial<SyncExecutionInput> & { chunk?: unknown };
  try {
    input = JSON.parse(detail.input ?? 'null') ?? {};
  } catch {
    return 'the execution input is not JSON';
  }
  if (typeof input.storageId !== 'number' || typeof input.jobId !== 'string' || input.chunk !== undefined) return 'the execution input is not a sync job';
  return { storageId: input.storageId, jobId: input.jobId, role: input.role === 'export' ? 'export' : 'import' };
}

/** The traceback: what ended the execution, Lambda's error message when the cause is one. */
async function failureTraceback(deps: SyncDeps, storage: StorageItem, detail: ExecutionStatusDetail): Promise<string> {
  const status = detail.status as ExecutionEndStatus;
  const error = detail.error || (status === 'TIMED_OUT' ? 'States.Timeout' : status === 'ABORTED' ? 'ExecutionAborted' : 'States.Failed');
  const cause = detail.cause || (status === 'ABORTED' ? 'the execution was stopped' : '');
  const what = tracebackOf({ Error: error, Cause: cause }, await secretValues(deps, storage));
  return `The sync execution ${detail.name ?? detail.executionArn} ended ${status}: ${what}`.slice(0, 4_000);
}

/** Marks the job's storage failed if the execution's end left it queued or in progress. */
export async function finalizeFailedExecution(deps: SyncDeps, detail: ExecutionStatusDetail): Promise<ExecutionFailedResult> {
  const job = jobOf(detail);
  if (typeof job === 'string') return { marked: false, reason: job };
  const storage = await readStorage(deps.db, job.storageId);
  if (!storage || storage.cancelled) return { marked: false, reason: 'the storage was deleted' };
  const traceback = await failureTraceback(deps, storage, detail);
  const written = await writeStorageSyncState(
    deps.db,
    job.storageId,
    { set: { status: 'failed', traceback }, metaEntries: { time_failure: pyTime(new Date()) } },
    { jobId: job.jobId, statusIn: ['queued', 'in_progress'] },
  );
  if (!written) return { marked: false, reason: 'the job already has a final status' };
  if (deps.events) {
    const counters = written.meta ?? {};
    const outcome = { job_id: job.jobId, status: 'failed', counters: Object.fromEntries(Object.entries(counters).filter(([k]) => k !== 'failures')), errors: [{ reason: traceback }], traceback };
    await deps.events.emit(storageSyncEvent(written, await getProject(deps.db, written.projectId), outcome));
  }
  return { marked: true, storageId: job.storageId, jobId: job.jobId };
}
