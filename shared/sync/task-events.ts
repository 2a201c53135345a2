/**
 * The task events a sync or an event batch emits: TASKS_CREATED for the tasks it wrote new and
 * TASKS_DELETED for those its deletion mode removed (Label Studio emits the first per chunk and
 * none for storage deletions; a receiver mirroring the project needs both). Each carries a stable
 * event id, so a retried chunk or batch is recorded once per webhook.
 */
import type { ProjectItem, TaskItem } from '../db/items';
import { getProject } from '../db/repo-projects';
import { tasksCreated, tasksDeleted } from '../webhooks/events';
import type { SyncDeps } from './deps';

type EventDeps = Pick<SyncDeps, 'db' | 'events'>;

/** TASKS_CREATED of `tasks` (none when empty or when nothing receives events). */
export async function emitTasksCreated(deps: EventDeps, project: ProjectItem, tasks: readonly TaskItem[], eventId: string): Promise<void> {
  if (tasks.length && deps.events) await deps.events.emit(tasksCreated(project, tasks, eventId));
}

/** TASKS_DELETED of `ids` in the project (given, or read by id). */
export async function emitTasksDeleted(deps: EventDeps, project: ProjectItem | number, ids: readonly number[], eventId: string): Promise<void> {
  if (!ids.length || !deps.events) return;
  const p = typeof project === 'number' ? await getProject(deps.db, project) : project;
  if (p) await deps.events.emit(tasksDeleted(p, ids, eventId));
}
