/**
 * Task use cases: import, create, list (cursor + page), get, update, delete (one or all of a
 * project), and the one task serialiser every task-returning route uses.
 */
import type { AppContext } from '../context';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../errors';
import { reserveIds } from '../db/counters';
import type { AnnotationItem, ProjectItem, TaskItem } from '../db/items';
import { adjustProjectCounters, getProject } from '../db/repo-projects';
import { decodeCursor, encodeCursor } from '../db/repo-common';
import { listTaskAnnotations, putAnnotations } from '../db/repo-annotations';
import { deleteProjectTasks, deleteTask, getTask, listProjectTasks, putTasks, skipProjectTasks, updateTask } from '../db/repo-tasks';
import { newTaskItems } from '../db/task-factory';
import { recordTaskDeletion } from '../db/repo-links';
import { dropImportState } from '../db/repo-import-state';
import { listProjectStorages } from '../db/repo-storages';
import type { Principal } from '../http/auth';
import { countWithinResponseBudget } from '../http/limits';
import { tasksCreated, tasksDeleted } from '../webhooks/events';
import type { HttpRequest } from '../http/types';
import { resolveTaskDataForApi } from '../resolve/task-data';
import { serializeAnnotation, toAnnotationFields } from './annotation-fields';
import { DELETE_BUDGET_MS, getOwnedProject } from './projects';
import { TaskListQuerySchema, WrappedTaskSchema } from './project-schemas';
import { TaskCreateSchema, TaskPatchSchema } from './task-schemas';
import { issuesToFields, parseWith, storableJsonProblem } from './validation';

/** Label Studio's placeholder data key of blob-mode tasks, renamed on serialisation. */
export const DATA_UNDEFINED_NAME = '$undefined$';

/** What `serializeTask` needs besides the task. */
export interface TaskSerializationContext {
  project: ProjectItem;
  app: AppContext;
  principal?: Principal;
  /** The request being answered (resolve URLs are built relative to it). */
  request?: HttpRequest;
  /** Annotations to embed (single-task GET). */
  annotations?: AnnotationItem[];
  /** False: `data` exactly as stored (Label Studio's `resolve_uri=false`, and every write response). */
  resolveUri?: boolean;
}

/**
 * The API shape of a task (the single serialiser of the code base). `$undefined$` in `data` is
 * renamed to the project's first data key (kept when the config has none). Async on purpose:
 * URI resolution of storage URLs is added here.
 */
export async function serializeTask(task: TaskItem, ctx: TaskSerializationContext): Promise<Record<string, unknown>> {
  let data = task.data ?? {};
  const first = ctx.project.data_keys?.[0];
  if (first && DATA_UNDEFINED_NAME in data && !(first in data)) {
    const { [DATA_UNDEFINED_NAME]: v, ...rest } = data;
    data = { [first]: v, ...rest };
  }
  // Storage URIs → resolve URLs with media tokens (shared/resolve).
  if (ctx.resolveUri !== false) data = await resolveTaskDataForApi(data, task, ctx);
  const out: Record<string, unknown> = {
    id: task.id,
    project: task.projectId,
    data,
    meta: task.meta ?? {},
    predictions: task.predictions ?? [],
    is_labeled: task.is_labeled,
    overlap: 1,
    total_annotations: task.total_annotations ?? 0,
    cancelled_annotations: task.cancelled_annotations ?? 0,
    total_predictions: task.total_predictions ?? 0,
    allow_skip: task.allow_skip ?? true,
    storage_filename: task.source?.key ?? null,
    // false once a sync with sync_deletions "flag" found the source object gone.
    object_exists: task.object_exists !== false,
    created_at: task.created_at,
    updated_at: task.updated_at,
  };
  if (ctx.annotations) out.annotations = ctx.annotations.map(serializeAnnotation);
  return out;
}

/**
 * The caller's task and its project.
 * @throws NotFoundError when missing, of another organization, or of a deleted project
 */
export async function getOwnedTask(app: AppContext, principal: Principal, id: number | undefined): Promise<{ task: TaskItem; project: ProjectItem }> {
  const task = id === undefined ? undefined : await getTask(app.db, id);
  if (!task || task.orgId !== principal.orgId) throw new NotFoundError('Task not found.');
  const project = await getProject(app.db, task.projectId);
  if (!project || project.orgId !== principal.orgId) throw new NotFoundError('Task not found.');
  return { task, project };
}

/** DynamoDB's item limit is 400 KB; leave room for keys and counters. */
const MAX_TASK_BYTES = 350 * 1024;

/** One validated element of an import body. */
interface ImportedTask {
  data: Record<string, unknown>;
  annotations: ReturnType<typeof toAnnotationFields>[];
  predictions: Record<string, unknown>[];
  meta?: Record<string, unknown>;
  allow_skip?: boolean;
}

/**
 * Validates every element of an import body (nothing is written before all are valid) and
 * collects the data columns.
 * @throws ValidationError (per element index), PayloadTooLargeError
 */
function parseImportBody(body: unknown, principal: Principal): { parsed: ImportedTask[]; columns: Set<string> } {
  if (body === undefined || body === null) throw new ValidationError({ non_field_errors: ['No tasks to import.'] });
  const elements = Array.isArray(body) ? body : [body];
  const errors: Record<string, string[]> = {};
  const parsed: ImportedTask[] = [];
  const columns = new Set<string>();
  elements.forEach((el, i) => {
    if (el === null || typeof el !== 'object' || Array.isArray(el)) {
      errors[`${i}`] = ['Each task must be a JSON object.'];
      return;
    }
    const obj = el as Record<string, unknown>;
    const wrapped = obj.data !== null && typeof obj.data === 'object' && !Array.isArray(obj.data);
    if (!wrapped && ('annotations' in obj || 'predictions' in obj)) {
      errors[`${i}`] = ['If you use "annotations" or "predictions" in a task, you must put "data" in the task too.'];
      return;
    }
    if (!wrapped) {
      parsed.push({ data: obj, annotations: [], predictions: [] });
    } else {
      const r = WrappedTaskSchema.safeParse(obj);
      if (!r.success) {
        for (const [k, v] of Object.entries(issuesToFields(r.error.issues))) errors[`${i}.${k}`] = v;
        return;
      }
      parsed.push({
        data: r.data.data,
        annotations: (r.data.annotations ?? []).map((a) => toAnnotationFields(a, principal)),
        predictions: r.data.predictions ?? [],
        meta: r.data.meta,
        allow_skip: r.data.allow_skip,
      });
    }
    const last = parsed[parsed.length - 1];
    const unstorable = storableJsonProblem(obj);
    if (unstorable) {
      errors[`${i}`] = [unstorable];
      return;
    }
    Object.keys(last.data).forEach((k) => columns.add(k));
    if (Buffer.byteLength(JSON.stringify(last)) > MAX_TASK_BYTES) errors[`${i}`] = [`Task is larger than ${MAX_TASK_BYTES} bytes.`];
  });
  if (Object.keys(errors).length) throw new ValidationError(errors);
  if (!parsed.length) throw new ValidationError({ non_field_errors: ['No tasks to import.'] });
  if (parsed.length > 100_000) throw new PayloadTooLargeError('At most 100,000 tasks per import request.');

  return { parsed, columns };
}

/**
 * Writes validated tasks (new ids) with their annotations and bumps the project's counters.
 * Annotations first: a task never becomes visible with counters its annotations do not back.
 */
async function storeNewTasks(app: AppContext, project: ProjectItem, parsed: ImportedTask[]): Promise<{ tasks: TaskItem[]; annotations: AnnotationItem[]; predictionCount: number }> {
  const firstTask = await reserveIds(app.db, 'task', parsed.length);
  const annCount = parsed.reduce((n, p) => n + p.annotations.length, 0);
  let annId = annCount ? await reserveIds(app.db, 'annotation', annCount) : 0;
  const now = new Date().toISOString();
  const tasks: TaskItem[] = [];
  const annotations: AnnotationItem[] = [];
  let predictionCount = 0;
  let labeledAnnotations = 0;
  parsed.forEach((p, i) => {
    const built = newTaskItems({ ...p, id: firstTask + i, projectId: project.id, orgId: project.orgId, firstAnnotationId: annId, now });
    annId += built.annotations.length;
    annotations.push(...built.annotations);
    labeledAnnotations += built.labeled;
    predictionCount += p.predictions.length;
    tasks.push(built.task);
  });
  await putAnnotations(app.db, annotations);
  await putTasks(app.db, tasks);
  if (labeledAnnotations) await adjustProjectCounters(app.db, project.id, { annotations: labeledAnnotations });
  await app.webhooks.events.emit(tasksCreated(project, tasks));
  return { tasks, annotations, predictionCount };
}

/**
 * Imports tasks into a project (Label Studio's `POST /api/projects/{id}/import` with a JSON body).
 * Each element is a data object, or `{data, annotations, predictions, meta, allow_skip}`.
 * Everything is validated before anything is written. `returnTaskIds` (LS: `?return_task_ids=1`)
 * adds the new ids as `task_ids`.
 * @throws ValidationError (per element index), PayloadTooLargeError, NotFoundError
 */
export async function importTasks(
  app: AppContext,
  principal: Principal,
  projectId: number | undefined,
  body: unknown,
  opts: { returnTaskIds?: boolean } = {},
): Promise<{ task_count: number; annotation_count: number; prediction_count: number; duration: number; file_upload_ids: number[]; could_be_tasks_list: boolean; found_formats: string[]; data_columns: string[]; task_ids?: number[] }> {
  const started = Date.now();
  const project = await getOwnedProject(app, principal, projectId);
  const { parsed, columns } = parseImportBody(body, principal);

  const { tasks, annotations, predictionCount } = await storeNewTasks(app, project, parsed);
  return {
    task_count: tasks.length,
    annotation_count: annotations.length,
    prediction_count: predictionCount,
    duration: (Date.now() - started) / 1000,
    file_upload_ids: [],
    could_be_tasks_list: false,
    found_formats: [],
    data_columns: [...columns],
    // Label Studio's SDK imports with `?return_task_ids=1` and returns this list.
    ...(opts.returnTaskIds ? { task_ids: tasks.map((t) => t.id) } : {}),
  };
}

/**
 * Label Studio's check of task data against the label config: every data key the config refers
 * to must be present (a blob-mode `$undefined$` stands for the first one). Types are not checked.
 * @throws ValidationError under `non_field_errors`, Label Studio's sentence
 */
function assertConfigKeys(project: ProjectItem, data: Record<string, unknown>): void {
  const keys = project.data_keys ?? [];
  const present = (k: string) => k in data || k.split('.')[0] in data || (k === keys[0] && DATA_UNDEFINED_NAME in data);
  const missing = keys.filter((k) => !present(k));
  if (missing.length) {
    throw new ValidationError({ non_field_errors: missing.map((k) => `"${k}" key is expected in task data [assume: item["data"] = task root with values]`) });
  }
}

/** The import limits for one task's stored fields. @throws ValidationError, PayloadTooLargeError */
function assertStorableTask(fields: { data: Record<string, unknown>; meta?: Record<string, unknown> }): void {
  for (const [k, v] of Object.entries(fields)) {
    const problem = storableJsonProblem(v);
    if (problem) throw ValidationError.field(k, problem);
  }
  if (Buffer.byteLength(JSON.stringify(fields)) > MAX_TASK_BYTES) throw new PayloadTooLargeError(`Task is larger than ${MAX_TASK_BYTES} bytes.`);
}

/**
 * `POST /api/tasks` (Label Studio SDK `tasks.create`): one task `{project, data, meta?}` in a
 * project of the caller's organization; other task columns are ignored. Answers the task with
 * `data` as stored.
 * @throws ValidationError (missing project, bad data/meta, missing config keys), NotFoundError
 * for an unknown, non-numeric or foreign project (looked up before the body, as Label Studio)
 */
export async function createTask(app: AppContext, principal: Principal, body: unknown): Promise<Record<string, unknown>> {
  const raw = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  if (raw.project === undefined || raw.project === null) throw ValidationError.field('project', 'This field is required.');
  const project = await getOwnedProject(app, principal, Number.isSafeInteger(Number(raw.project)) ? Number(raw.project) : undefined);
  const input = parseWith(TaskCreateSchema.omit({ project: true }), raw);
  assertConfigKeys(project, input.data);
  assertStorableTask({ data: input.data, ...(input.meta ? { meta: input.meta } : {}) });
  const { tasks } = await storeNewTasks(app, project, [{ data: input.data, meta: input.meta, annotations: [], predictions: [] }]);
  return serializeTask(tasks[0], { project, app, principal, resolveUri: false });
}

/**
 * `PATCH /api/tasks/{id}` (SDK `tasks.update`): replaces `data` and/or `meta` (each whole, as
 * Label Studio), with the import limits and the label-config check of POST. A `project` other
 * than the task's is refused (Label Studio would move the task without fixing any counter).
 * @throws ValidationError, PayloadTooLargeError, NotFoundError (missing or foreign task)
 */
export async function patchOwnedTask(app: AppContext, principal: Principal, id: number | undefined, body: unknown): Promise<Record<string, unknown>> {
  const { task, project } = await getOwnedTask(app, principal, id);
  const input = parseWith(TaskPatchSchema, body ?? {});
  if (input.project !== undefined && input.project !== project.id) throw ValidationError.field('project', 'A task cannot be moved to another project.');
  if (input.data) assertConfigKeys(project, input.data);
  assertStorableTask({ data: input.data ?? task.data, ...((input.meta ?? task.meta) ? { meta: input.meta ?? task.meta } : {}) });
  const updated = input.data || input.meta ? await updateTask(app.db, task.id, { data: input.data, meta: input.meta }) : task;
  if (!updated) throw new NotFoundError('Task not found.');
  const annotations = await listTaskAnnotations(app.db, task.id);
  return serializeTask(updated, { project, app, principal, annotations, resolveUri: false });
}

/**
 * `DELETE /api/projects/{id}/tasks` (SDK `tasks.delete_all_tasks`): deletes the project's tasks
 * with their annotations, then, as Label Studio resets storage links, drops the import state of
 * the project's import storages so the next sync imports every object again. Synchronous within
 * `budgetMs`; when tasks remain after it, `done` is false, the storages are left alone and the
 * caller repeats the request (the route answers 202). A sync running meanwhile can re-create tasks.
 * @throws NotFoundError for a missing or foreign project
 */
export async function deleteAllProjectTasks(
  app: AppContext,
  principal: Principal,
  projectId: number | undefined,
  budgetMs = DELETE_BUDGET_MS,
): Promise<{ deleted: number; done: boolean }> {
  const project = await getOwnedProject(app, principal, projectId);
  const ids: number[] = [];
  const result = await deleteProjectTasks(app.db, project.id, Date.now() + budgetMs, ids);
  // Label Studio sends this one without its project (only organization webhooks get it); here
  // the project's webhooks get it too, with the project, as for a single task.
  if (ids.length) await app.webhooks.events.emit(tasksDeleted(project, ids));
  if (!result.done) return result;
  for (const s of await listProjectStorages(app.db, project.id, 'import')) await dropImportState(app.db, s.id);
  return result;
}

/**
 * `resolve_uri` with Label Studio's boolean spellings (case-insensitive); absent means true.
 * @throws ValidationError under `resolve_uri`
 */
export function parseResolveUri(value: string | undefined): boolean {
  if (value === undefined) return true;
  if (/^(true|yes|on|1)$/i.test(value)) return true;
  if (/^(false|no|not|off|0)$/i.test(value)) return false;
  throw ValidationError.field('resolve_uri', 'Must be a valid boolean.');
}

/** Default and maximum page sizes of the task listing. */
export const TASK_PAGE_SIZE = 100;
export const TASK_PAGE_SIZE_MAX = 1000;

/**
 * `GET /api/tasks?project=&page=&page_size=&cursor=`: Label Studio's `{tasks, total, ...}` shape
 * plus `next` (opaque cursor). Order is ascending id, stable across pages; with `cursor` no
 * skipping is needed, with `page` the earlier pages' ids are read (ids only). A `page` past the
 * last one is a 404 `Invalid page.` (Label Studio's SDK stops on it); an exhausted cursor is not.
 * A page is also cut at LIST_RESPONSE_BUDGET_BYTES of serialised tasks (then `next` is set even
 * if the page has fewer than `page_size` tasks); only `next` continues exactly after a cut page.
 * @throws ValidationError for a missing/invalid project or paging parameter, NotFoundError
 */
export async function listTasks(
  app: AppContext,
  principal: Principal,
  query: Record<string, string>,
  request?: HttpRequest,
): Promise<{ tasks: Record<string, unknown>[]; total: number; total_annotations: number; total_predictions: number; next: string | null }> {
  if (query.project === undefined) throw ValidationError.field('project', 'query parameter "project" is required');
  const q = parseWith(TaskListQuerySchema, query);
  const resolveUri = parseResolveUri(query.resolve_uri);
  const project = await getOwnedProject(app, principal, Number(q.project));
  const pageSize = Math.min(Number(q.page_size ?? TASK_PAGE_SIZE), TASK_PAGE_SIZE_MAX);
  let afterId: number | undefined;
  let exhausted = false;
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    if (!Number.isSafeInteger(c.after) || (c.p !== undefined && c.p !== project.id)) throw ValidationError.field('cursor', 'Invalid cursor.');
    afterId = c.after as number;
  } else if (q.page && Number(q.page) > 1) {
    afterId = await skipProjectTasks(app.db, project.id, (Number(q.page) - 1) * pageSize);
    exhausted = afterId === undefined;
  }
  const page = exhausted ? { items: [], hasMore: false } : await listProjectTasks(app.db, project.id, { afterId, limit: pageSize });
  // Django REST framework (Label Studio) answers 404 "Invalid page." past the last page, and
  // Label Studio's SDK relies on that 404 to stop paginating. Page 1 of an empty project is a 200.
  if (q.page && Number(q.page) > 1 && !page.items.length) throw new NotFoundError('Invalid page.');
  const serialized = await Promise.all(page.items.map((t) => serializeTask(t, { project, app, principal, request, resolveUri })));
  // A page of big tasks would exceed Lambda's 6 MB response limit (a 5xx behind API Gateway):
  // it is cut by bytes instead, and `next` continues after the last task sent.
  const kept = countWithinResponseBudget(serialized);
  const tasks = serialized.slice(0, kept);
  const last = page.items[kept - 1];
  const more = page.hasMore || kept < page.items.length;
  return {
    tasks,
    total: project.task_number ?? 0,
    total_annotations: project.total_annotations_number ?? 0,
    total_predictions: project.total_predictions_number ?? 0,
    next: more && last ? encodeCursor({ p: project.id, after: last.id }) : null,
  };
}

/** One task with its annotations (`?resolve_uri=false`: data as stored). @throws NotFoundError, ValidationError */
export async function getTaskDetail(app: AppContext, principal: Principal, id: number | undefined, request?: HttpRequest): Promise<Record<string, unknown>> {
  const resolveUri = parseResolveUri(request?.query.resolve_uri);
  const { task, project } = await getOwnedTask(app, principal, id);
  const annotations = await listTaskAnnotations(app.db, task.id);
  return serializeTask(task, { project, app, principal, request, annotations, resolveUri });
}

/** Deletes a task and its annotations. @throws NotFoundError */
export async function deleteOwnedTask(app: AppContext, principal: Principal, id: number | undefined): Promise<void> {
  const { task, project } = await getOwnedTask(app, principal, id);
  await deleteTask(app.db, task);
  // A synced task leaves a tombstone in its object's link, so the next sync does not bring it back.
  if (task.source) await recordTaskDeletion(app.db, task);
  await app.webhooks.events.emit(tasksDeleted(project, [task.id]));
}
