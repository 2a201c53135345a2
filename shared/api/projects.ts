/**
 * Project use cases: create, list, get, update, delete. Every lookup is scoped to the caller's
 * organization; another organization's project is indistinguishable from a missing one (404).
 */
import type { AppContext } from '../context';
import { NotFoundError, ValidationError } from '../errors';
import { nextId } from '../db/counters';
import type { ProjectItem } from '../db/items';
import { countProjects, getProject, listProjects, putProject, updateProject } from '../db/repo-projects';
import { listProjectStorages } from '../db/repo-storages';
import { deleteProjectLeavingSweep } from '../db/repo-sweep';
import { decodeCursor, encodeCursor } from '../db/repo-common';
import type { Principal } from '../http/auth';
import { countWithinResponseBudget } from '../http/limits';
import { getLogger } from '../logging';
import { deleteProjectWebhooks } from '../db/repo-webhooks';
import { projectEvent } from '../webhooks/events';
import { DEFAULT_LABEL_CONFIG, parseDataKeys } from './label-config';
import { finishProjectDeletion } from './project-sweep';
import { ProjectCreateSchema } from './project-schemas';
import { parseWith } from './validation';

/** The API shape of a project. */
export function serializeProject(p: ProjectItem): Record<string, unknown> {
  return {
    id: p.id,
    title: p.title,
    description: p.description,
    label_config: p.label_config,
    data_keys: p.data_keys,
    task_number: p.task_number ?? 0,
    total_annotations_number: p.total_annotations_number ?? 0,
    total_predictions_number: p.total_predictions_number ?? 0,
    created_at: p.created_at,
    updated_at: p.updated_at,
  };
}

/**
 * The caller's project.
 * @throws NotFoundError when missing or owned by another organization
 */
export async function getOwnedProject(app: AppContext, principal: Principal, id: number | undefined): Promise<ProjectItem> {
  const p = id === undefined ? undefined : await getProject(app.db, id);
  if (!p || p.orgId !== principal.orgId) throw new NotFoundError('Project not found.');
  return p;
}

/** Creates a project from a request body. @throws ValidationError */
export async function createProject(app: AppContext, principal: Principal, body: unknown): Promise<ProjectItem> {
  const input = parseWith(ProjectCreateSchema, body ?? {});
  const now = new Date().toISOString();
  const label_config = input.label_config ?? DEFAULT_LABEL_CONFIG;
  const p: ProjectItem = {
    kind: 'project',
    id: await nextId(app.db, 'project'),
    orgId: principal.orgId,
    title: input.title ?? '',
    description: input.description ?? '',
    label_config,
    data_keys: parseDataKeys(label_config),
    task_number: 0,
    total_annotations_number: 0,
    total_predictions_number: 0,
    created_at: now,
    updated_at: now,
  };
  await putProject(app.db, p);
  await app.webhooks.events.emit(projectEvent('PROJECT_CREATED', p));
  return p;
}

/** Partial update of title, description, label_config (data keys re-derived). @throws ValidationError, NotFoundError */
export async function patchProject(app: AppContext, principal: Principal, id: number | undefined, body: unknown): Promise<ProjectItem> {
  const existing = await getOwnedProject(app, principal, id);
  const input = parseWith(ProjectCreateSchema, body ?? {});
  const updated = await updateProject(app.db, existing.id, {
    title: input.title === undefined ? undefined : input.title ?? '',
    description: input.description === undefined ? undefined : input.description ?? '',
    label_config: input.label_config,
    data_keys: input.label_config === undefined ? undefined : parseDataKeys(input.label_config),
  });
  if (!updated) throw new NotFoundError('Project not found.');
  await app.webhooks.events.emit(projectEvent('PROJECT_UPDATED', updated));
  return updated;
}

/**
 * Page-numbered listing in Label Studio's paginated shape `{count, next, previous, results}`.
 * Page N reads N pages of the org's project index (projects per organization are few).
 * A page whose projects would pass LIST_RESPONSE_BUDGET_BYTES (a project carries up to ~350 KB of
 * label config and description, Lambda's response limit is 6 MB) is cut there, and its `next`
 * link continues with `cursor` after the last project sent (`previous` is null on cursor pages).
 * @throws NotFoundError `Invalid page.` past the last page (page 1 is always valid)
 * @throws ValidationError for a cursor of another organization or a malformed one
 */
export async function listOwnedProjects(
  app: AppContext,
  principal: Principal,
  query: { page?: number; pageSize?: number; cursor?: string; basePath: string },
): Promise<{ count: number; next: string | null; previous: string | null; results: Record<string, unknown>[] }> {
  const page = query.cursor ? 1 : (query.page ?? 1);
  const pageSize = query.pageSize ?? 100;
  const after = query.cursor ? cursorAfter(query.cursor, principal.orgId) : undefined;
  const res = await readProjectPage(app, principal, page, pageSize, after);
  // As Django REST framework: a page past the last one is a 404, page 1 is always valid.
  if (page > 1 && !res.items.length) throw new NotFoundError('Invalid page.');
  const serialized = res.items.map(serializeProject);
  const kept = countWithinResponseBudget(serialized);
  const link = (n: number) => `${query.basePath}?page=${n}&page_size=${pageSize}`;
  let next = res.hasMore ? link(page + 1) : null;
  if (kept < serialized.length || (query.cursor && res.hasMore)) {
    next = `${query.basePath}?page_size=${pageSize}&cursor=${encodeCursor({ o: principal.orgId, after: res.items[kept - 1].id })}`;
  }
  return {
    count: await countProjects(app.db, principal.orgId),
    next,
    previous: page > 1 ? link(page - 1) : null,
    results: serialized.slice(0, kept),
  };
}

/** The project id a listing cursor continues after. @throws ValidationError */
function cursorAfter(cursor: string, orgId: string): number {
  const c = decodeCursor(cursor);
  if (!Number.isSafeInteger(c.after) || c.o !== orgId) throw ValidationError.field('cursor', 'Invalid cursor.');
  return c.after as number;
}

/** Page `page` of the org's projects (or the page after project `after`). */
async function readProjectPage(app: AppContext, principal: Principal, page: number, pageSize: number, after?: number): Promise<{ items: ProjectItem[]; hasMore: boolean }> {
  let afterId = after;
  let res = { items: [] as ProjectItem[], hasMore: false };
  for (let p = 1; p <= page; p++) {
    res = await listProjects(app.db, principal.orgId, { afterId, limit: pageSize });
    if (!res.hasMore && p < page) return { items: [] as ProjectItem[], hasMore: false };
    afterId = res.items[res.items.length - 1]?.id;
  }
  return res;
}

/** How long a delete request may spend removing tasks before it leaves the rest (Lambda timeout 29 s). */
export const DELETE_BUDGET_MS = 20_000;

/**
 * Deletes a project: the project item first, in one transaction with its pending sweep (everything
 * under it becomes unreachable at once, and what this request does not get to is recorded), then
 * within `budgetMs` its storages (tombstoned, cancelling their syncs), its tasks with their
 * annotations and the import storages' state. What is left when the budget runs out is finished by
 * the scheduled sweeper (shared/api/project-sweep.ts). `done` is false when the sweeper has work.
 * @throws NotFoundError
 */
export async function deleteProject(
  app: AppContext,
  principal: Principal,
  id: number | undefined,
  budgetMs = DELETE_BUDGET_MS,
): Promise<{ deleted: number; done: boolean }> {
  const p = await getOwnedProject(app, principal, id);
  const live = await listProjectStorages(app.db, p.id);
  const sweep = {
    projectId: p.id,
    storages: live.map((s) => ({ id: s.id, role: s.role })),
    syncing: live.some((s) => s.status === 'queued' || s.status === 'in_progress'),
    created_at: new Date().toISOString(),
  };
  if (!(await deleteProjectLeavingSweep(app.db, sweep))) throw new NotFoundError('Project not found.');
  // Label Studio deletes a project's webhooks with it (organization-level ones stay).
  await deleteProjectWebhooks(app.db, p.orgId, p.id);
  await app.webhooks.events.emit(projectEvent('PROJECT_DELETED', p));
  const result = await finishProjectDeletion(app, { kind: 'sweep', ...sweep }, Date.now() + budgetMs);
  if (!result.done) getLogger('api').info('project delete continues in the sweeper', { projectId: p.id, deleted: result.deleted });
  return result;
}
