/**
 * Annotation use cases: list/create on a task, get/patch/delete by id. Counters of the task and
 * project are kept by the repository in the same transaction as each write.
 */
import type { AppContext } from '../context';
import { NotFoundError } from '../errors';
import { nextId } from '../db/counters';
import type { AnnotationItem, ProjectItem, TaskItem } from '../db/items';
import type { LabelsyncEvent } from '../webhooks/types';
import { getProject } from '../db/repo-projects';
import { getTask } from '../db/repo-tasks';
import { annotationEvent, annotationsDeleted } from '../webhooks/events';
import { createAnnotation, deleteAnnotation, getAnnotation, listTaskAnnotations, updateAnnotation } from '../db/repo-annotations';
import type { Principal } from '../http/auth';
import { serializeAnnotation, toAnnotationFields } from './annotation-fields';
import { AnnotationInputSchema, AnnotationPatchSchema } from './project-schemas';
import { getOwnedTask } from './tasks';
import { assertStorableFields, parseWith } from './validation';

export { serializeAnnotation } from './annotation-fields';

/**
 * The caller's annotation.
 * @throws NotFoundError when missing, of another organization, or of a deleted project
 */
export async function getOwnedAnnotation(app: AppContext, principal: Principal, id: number | undefined): Promise<AnnotationItem> {
  const a = id === undefined ? undefined : await getAnnotation(app.db, id);
  if (!a || a.orgId !== principal.orgId) throw new NotFoundError('Annotation not found.');
  const p = await getProject(app.db, a.projectId);
  if (!p || p.orgId !== principal.orgId) throw new NotFoundError('Annotation not found.');
  return a;
}

/** Annotations of the caller's task. @throws NotFoundError */
export async function listAnnotationsOfTask(app: AppContext, principal: Principal, taskId: number | undefined): Promise<Record<string, unknown>[]> {
  const { task } = await getOwnedTask(app, principal, taskId);
  return (await listTaskAnnotations(app.db, task.id)).map(serializeAnnotation);
}

/** Creates an annotation on the caller's task. @throws ValidationError, NotFoundError */
export async function createTaskAnnotation(app: AppContext, principal: Principal, taskId: number | undefined, body: unknown): Promise<AnnotationItem> {
  const { task, project } = await getOwnedTask(app, principal, taskId);
  const input = parseWith(AnnotationInputSchema.omit({ id: true }), body ?? {});
  assertStorableFields(input);
  const now = new Date().toISOString();
  const created = await createAnnotation(app.db, {
    kind: 'annotation',
    id: await nextId(app.db, 'annotation'),
    taskId: task.id,
    projectId: task.projectId,
    orgId: task.orgId,
    ...toAnnotationFields(input, principal),
    version: 1,
    created_at: now,
    updated_at: now,
  });
  await app.webhooks.events.emit(annotationEvent('ANNOTATION_CREATED', project, (await getTask(app.db, task.id)) ?? task, created));
  return created;
}

/** The project and task of an annotation for its event (skipped when either is gone meanwhile). */
async function emitForAnnotation(app: AppContext, a: AnnotationItem, event: (p: ProjectItem, t: TaskItem) => LabelsyncEvent): Promise<void> {
  const [project, task] = await Promise.all([getProject(app.db, a.projectId), getTask(app.db, a.taskId)]);
  if (project && task) await app.webhooks.events.emit(event(project, task));
}

/** Partial update; bumps `version`. @throws ValidationError, NotFoundError, ConflictError */
export async function patchAnnotation(app: AppContext, principal: Principal, id: number | undefined, body: unknown): Promise<AnnotationItem> {
  const a = await getOwnedAnnotation(app, principal, id);
  const input = parseWith(AnnotationPatchSchema, body ?? {});
  assertStorableFields(input);
  const updated = await updateAnnotation(app.db, a.id, input);
  await emitForAnnotation(app, updated, (p, t) => annotationEvent('ANNOTATION_UPDATED', p, t, updated));
  return updated;
}

/** Deletes the caller's annotation. @throws NotFoundError */
export async function deleteOwnedAnnotation(app: AppContext, principal: Principal, id: number | undefined): Promise<void> {
  const a = await getOwnedAnnotation(app, principal, id);
  await deleteAnnotation(app.db, a);
  const project = await getProject(app.db, a.projectId);
  if (project) await app.webhooks.events.emit(annotationsDeleted(project, [a.id]));
}
