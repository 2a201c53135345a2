/**
 * Task use cases: import, list (cursor + page), get, delete, and the one task serialiser every
 * task-returning route uses.
 */
import type { AppContext } from '../context';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../errors';
import { reserveIds } from '../db/counters';
import type { AnnotationItem, ProjectItem, TaskItem } from '../db/items';
import { adjustProjectCounters, getProject } from '../db/repo-projects';
import { decodeCursor, encodeCursor } from '../db/repo-common';
import { listTaskAnnotations, putAnnotations } from '../db/repo-annotations';
import { deleteTask, getTask, listProjectTasks, putTasks, skipProjectTasks } from '../db/repo-tasks';
import { newTaskItems } from '../db/task-factory';
import { recordTaskDeletion } from '../db/repo-links';
import type { Principal } from '../http/auth';
import type { HttpRequest } from '../http/types';
import { resolveTaskDataForApi } from '../resolve/task-data';
import { serializeAnnotation, toAnnotationFields } from './annotation-fields';
import { getOwnedProject } from './projects';
import { TaskListQuerySchema, WrappedTaskSchema } from './project-schemas';
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
  data = await resolveTaskDataForApi(data, task, ctx);
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

  const firstTask = await reserveIds(app.db, 'task', parsed.length);
  const annCount = parsed.reduce((n, p) => n + p.annotations.length, 0);
  const firstAnn = annCount ? await reserveIds(app.db, 'annotation', annCount) : 0;
  const now = new Date().toISOString();
  const tasks: TaskItem[] = [];
  const annotations: AnnotationItem[] = [];
  let annId = firstAnn;
  let predictionCount = 0;
  let labeledAnnotations = 0;
  parsed.forEach((p, i) => {
    const built = newTaskItems({
      id: firstTask + i,
      projectId: project.id,
      orgId: project.orgId,
      data: p.data,
      meta: p.meta,
      predictions: p.predictions,
      allow_skip: p.allow_skip,
      annotations: p.annotations,
      firstAnnotationId: annId,
      now,
    });
    annId += built.annotations.length;
    annotations.push(...built.annotations);
    labeledAnnotations += built.labeled;
    predictionCount += p.predictions.length;
    tasks.push(built.task);
  });
  // Annotations first: a task never becomes visible with counters its annotations do not back.
  await putAnnotations(app.db, annotations);
  await putTasks(app.db, tasks);
  if (labeledAnnotations) await adjustProjectCounters(app.db, project.id, { annotations: labeledAnnotations });
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

/** Default and maximum page sizes of the task listing. */
export const TASK_PAGE_SIZE = 100;
export const TASK_PAGE_SIZE_MAX = 1000;

/**
 * `GET /api/tasks?project=&page=&page_size=&cursor=`: Label Studio's `{tasks, total, ...}` shape
 * plus `next` (opaque cursor). Order is ascending id, stable across pages; with `cursor` no
 * skipping is needed, with `page` the earlier pages' ids are read (ids only). A `page` past the
 * last one is a 404 `Invalid page.` (Label Studio's SDK stops on it); an exhausted cursor is not.
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
  const tasks = await Promise.all(page.items.map((t) => serializeTask(t, { project, app, principal, request })));
  const last = page.items[page.items.length - 1];
  return {
    tasks,
    total: project.task_number ?? 0,
    total_annotations: project.total_annotations_number ?? 0,
    total_predictions: project.total_predictions_number ?? 0,
    next: page.hasMore && last ? encodeCursor({ p: project.id, after: last.id }) : null,
  };
}

/** One task with its annotations. @throws NotFoundError */
export async function getTaskDetail(app: AppContext, principal: Principal, id: number | undefined, request?: HttpRequest): Promise<Record<string, unknown>> {
  const { task, project } = await getOwnedTask(app, principal, id);
  const annotations = await listTaskAnnotations(app.db, task.id);
  return serializeTask(task, { project, app, principal, request, annotations });
}

/** Deletes a task and its annotations. @throws NotFoundError */
export async function deleteOwnedTask(app: AppContext, principal: Principal, id: number | undefined): Promise<void> {
  const { task } = await getOwnedTask(app, principal, id);
  await deleteTask(app.db, task);
  // A synced task leaves a tombstone in its object's link, so the next sync does not bring it back.
  if (task.source) await recordTaskDeletion(app.db, task);
}
