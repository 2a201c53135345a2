/**
 * Finishing a project deletion. Deleting a project removes the project item (everything under it
 * becomes unreachable at once) in one transaction with a pending sweep (shared/db/repo-sweep.ts);
 * the rest — storages tombstoned, tasks with their annotations, the import storages' state — is
 * removed in time-boxed passes: first by the delete request, then by the scheduled `sweeper`
 * function, until nothing is left and the pending sweep goes. Every pass is idempotent.
 */
import type { AppContext } from '../context';
import { dropImportState } from '../db/repo-import-state';
import { tombstoneStorage } from '../db/repo-storages';
import { clearPendingSweep, listPendingSweeps, type ProjectSweep } from '../db/repo-sweep';
import { deleteProjectTasks } from '../db/repo-tasks';
import { getLogger } from '../logging';

/** Pending sweeps one sweeper run reads (each resumes where the last pass stopped). */
const SWEEPS_PER_RUN = 25;

/**
 * How long a project deleted during a sync keeps its pending sweep: the job stops at its next step
 * boundary, but the step in flight (a chunk or listing Lambda, up to 300 s) may still write tasks
 * of the deleted project; a pass after this finds and deletes them.
 */
export const SYNC_SETTLE_MS = 10 * 60 * 1000;

/**
 * One pass over a deleted project until `deadline` (epoch ms): its storages are tombstoned (again:
 * a no-op for tombstones), its tasks deleted, then its import storages' state dropped; the
 * pending sweep is removed when all of that is done (and, after a delete during a sync, once
 * {@link SYNC_SETTLE_MS} passed). `done` is false when something may remain.
 */
export async function finishProjectDeletion(app: AppContext, sweep: ProjectSweep, deadline: number): Promise<{ deleted: number; done: boolean }> {
  for (const s of sweep.storages) await tombstoneStorage(app.db, s.id);
  if (!(await removeImportSchedules(app, sweep))) return { deleted: 0, done: false };
  const tasks = await deleteProjectTasks(app.db, sweep.projectId, deadline);
  if (!tasks.done) return tasks;
  for (const s of sweep.storages) {
    if (Date.now() > deadline) return { deleted: tasks.deleted, done: false };
    // Not time-boxed inside one storage: a run that times out in it keeps the pending sweep, and
    // the next run continues on what is left (every delete there is idempotent).
    if (s.role === 'import') await dropImportState(app.db, s.id);
  }
  if (sweep.syncing && Date.now() - Date.parse(sweep.created_at) < SYNC_SETTLE_MS) return { deleted: tasks.deleted, done: false };
  await clearPendingSweep(app.db, sweep.projectId);
  return tasks;
}

/**
 * Removes the sync schedules the project's import storages may have (their fields are gone with
 * the project item, so every one is asked; a storage without one is no error).
 * @returns false when the scheduler failed (a later pass retries)
 */
async function removeImportSchedules(app: AppContext, sweep: ProjectSweep): Promise<boolean> {
  if (!app.syncScheduler) return true;
  try {
    for (const s of sweep.storages) if (s.role === 'import') await app.syncScheduler.remove(s.id);
    return true;
  } catch (e) {
    getLogger('sweeper').warn('sync schedules of a deleted project not removed yet', { projectId: sweep.projectId, error: e as Error });
    return false;
  }
}

export interface SweepResult {
  /** Deleted projects this run worked on. */
  projects: number;
  /** Of those, projects now gone completely (pending sweep removed). */
  finished: number;
  tasksDeleted: number;
}

/**
 * The sweeper's run: works through pending sweeps, oldest project first, until none is left or the
 * clock passes `deadline`. A project not finished by then is resumed by the next run.
 */
export async function sweepDeletedProjects(app: AppContext, deadline: number): Promise<SweepResult> {
  const result: SweepResult = { projects: 0, finished: 0, tasksDeleted: 0 };
  for (const sweep of await listPendingSweeps(app.db, SWEEPS_PER_RUN)) {
    if (Date.now() > deadline) break;
    const pass = await finishProjectDeletion(app, sweep, deadline);
    result.projects += 1;
    result.tasksDeleted += pass.deleted;
    if (pass.done) result.finished += 1;
  }
  return result;
}
