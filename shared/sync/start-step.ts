/**
 * First step of a sync job: creates the job item (idempotent) and moves the storage from
 * `queued` to `in_progress` (only from queued and only for this job).
 */
import { createJob } from '../db/repo-jobs';
import { getLastSyncRun, setLastSyncRun } from '../db/repo-digests';
import { pyTime, writeStorageSyncState } from '../db/repo-storage-sync-state';
import { getRuns, MAX_LIVE_RUNS } from '../db/repo-link-pages';
import { foreignClaimsAround } from '../db/repo-local-dirs';
import { backend } from '../storage/backends';
import { DIR_UNAVAILABLE } from '../storage/providers/local';
import type { SyncDeps } from './deps';
import { loadLiveJob, syncDeletionsOf } from './job-context';

export interface StartStepInput {
  storageId: number;
  jobId: string;
  role: 'import' | 'export';
}

/** Returns `{stopped}` when the storage was deleted or another job replaced this one. */
export async function startStep(deps: SyncDeps, input: StartStepInput): Promise<{ started: boolean; stopped?: string }> {
  const live = await loadLiveJob(deps, input.storageId, input.jobId);
  if ('stop' in live) return { started: false, stopped: live.stop };
  // A host-file storage made before directories had owners must not import another organization's files.
  if (backend(live.storage.type)?.capabilities?.servesHostFiles && (await foreignClaimsAround(deps.db, live.provider.bucket, live.storage.orgId)).length) {
    throw new Error(DIR_UNAVAILABLE);
  }
  // Digests of the previous job are trustworthy only if it ran cleanly and nothing ran since; from
  // now on this job is the last one to touch the links, clean only once its finalize says so.
  const last = input.role === 'import' ? await getLastSyncRun(deps.db, input.storageId) : undefined;
  // Too many live link runs: rewrite every range this time, so finalize can drop the old runs.
  const compact = input.role === 'import' && live.provider.ordered && (await getRuns(deps.db, input.storageId)).length >= MAX_LIVE_RUNS;
  await createJob(deps.db, {
    jobId: input.jobId,
    storageId: input.storageId,
    role: input.role,
    ordered: input.role === 'import' && live.provider.ordered,
    sync_deletions: input.role === 'import' ? syncDeletionsOf(live.storage) : 'keep',
    trust_digests_of: last?.clean && last.jobId !== input.jobId && !compact ? last.jobId : null,
  });
  if (input.role === 'import') await setLastSyncRun(deps.db, input.storageId, input.jobId, false);
  const now = pyTime(new Date());
  await writeStorageSyncState(
    deps.db,
    input.storageId,
    { set: { status: 'in_progress' }, metaEntries: { time_in_progress: now, time_last_ping: now } },
    { jobId: input.jobId, statusIn: ['queued'] },
  );
  return { started: true };
}
