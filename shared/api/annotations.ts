/**
 * Annotation use cases: list/create on a task, get/patch/delete by id. Counters of the task and
 * project are kept by the repository in the same transaction as each write.
 */
import type { AppContext } from '../context';
import { NotFoundError } from '../errors';
import { nextId } from '../db/counters';
import type { AnnotationItem } from '../db/items';
import { getProject } from '../db/repo-projects';
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
  const { task } = await getOwnedTask(app, principal, taskId);
  const input = parseWith(AnnotationInputSchema.omit({ id: true }), body ?? {});
  assertStorableFields(input);
  const now = new Date().toISOString();
  return createAnnotation(app.db, {
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
}

/** Partial update; bumps `version`. @throws ValidationError, NotFoundError, ConflictError */
export async function patchAnnotation(app: AppContext, principal: Principal, id: number | undefined, body: unknown): Promise<AnnotationItem> {
  const a = await getOwnedAnnotation(app, principal, id);
  const input = parseWith(AnnotationPatchSchema, body ?? {});
  assertStorableFields(input);
  return updateAnnotation(app.db, a.id, input);
}

/** Deletes the caller's annotation. @throws NotFoundError */
export async function deleteOwnedAnnotation(app: AppContext, principal: Principal, id: number | undefined): Promise<void> {
  const a = await getOwnedAnnotation(app, principal, id);
  await deleteAnnotation(app.db, a);
}
