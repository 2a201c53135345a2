/**
 * The API shape of an annotation and its stored fields from a validated input: what the task and
 * annotation use cases share (kept apart from both so neither imports the other).
 */
import type { z } from 'zod';
import type { AnnotationItem } from '../db/items';
import type { AnnotationFields } from '../db/task-factory';
import type { Principal } from '../http/auth';
import type { AnnotationInputSchema } from './project-schemas';

/** The API shape of an annotation. */
export function serializeAnnotation(a: AnnotationItem): Record<string, unknown> {
  return {
    id: a.id,
    task: a.taskId,
    project: a.projectId,
    result: a.result,
    completed_by: a.completed_by,
    ground_truth: a.ground_truth,
    lead_time: a.lead_time,
    was_cancelled: a.was_cancelled,
    version: a.version,
    import_id: a.import_id ?? null,
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

/** Stored fields of an annotation from a validated input (completed_by defaults to the caller). */
export function toAnnotationFields(
  a: z.output<typeof AnnotationInputSchema>,
  principal: Principal,
): AnnotationFields {
  const cb = a.completed_by;
  return {
    result: a.result,
    completed_by: cb === undefined || cb === null ? principal.userId : typeof cb === 'number' ? cb : cb.id,
    ground_truth: a.ground_truth,
    lead_time: a.lead_time ?? null,
    was_cancelled: a.was_cancelled,
    import_id: a.id ?? null,
  };
}
