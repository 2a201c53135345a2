/**
 * The one builder of new task and annotation items, used by every path that creates tasks in bulk
 * (the sync chunk step and `POST /api/projects/{id}/import`): ids, counters and timestamps are set
 * the same way whatever the source.
 */
import type { AnnotationItem, TaskItem } from './items';

/** The stored fields of an annotation that its source decides (the rest is set by {@link newTaskItems}). */
export type AnnotationFields = Pick<AnnotationItem, 'result' | 'completed_by' | 'ground_truth' | 'lead_time' | 'was_cancelled' | 'import_id'>;

/**
 * What a new task is made of. Optional fields are stored only when given; `predictions` is stored
 * as given (an empty list too; leave it undefined to store none).
 */
export interface NewTask extends Pick<TaskItem, 'id' | 'projectId' | 'orgId' | 'data' | 'meta' | 'predictions' | 'allow_skip' | 'source'> {
  annotations: AnnotationFields[];
  /** Id of the first annotation; the others follow consecutively. */
  firstAnnotationId: number;
  /** ISO-8601 time stamped as `created_at` and `updated_at`. */
  now: string;
}

/**
 * The task item and its annotation items. `labeled` counts the annotations that are not
 * cancelled (what the task's and project's `total_annotations` count).
 */
export function newTaskItems(t: NewTask): { task: TaskItem; annotations: AnnotationItem[]; labeled: number } {
  const annotations = t.annotations.map((a, i): AnnotationItem => ({
    kind: 'annotation',
    id: t.firstAnnotationId + i,
    taskId: t.id,
    projectId: t.projectId,
    orgId: t.orgId,
    ...a,
    version: 1,
    created_at: t.now,
    updated_at: t.now,
  }));
  const labeled = annotations.filter((a) => !a.was_cancelled).length;
  const task: TaskItem = {
    kind: 'task',
    id: t.id,
    projectId: t.projectId,
    orgId: t.orgId,
    data: t.data,
    ...(t.meta ? { meta: t.meta } : {}),
    ...(t.predictions ? { predictions: t.predictions } : {}),
    ...(t.allow_skip !== undefined ? { allow_skip: t.allow_skip } : {}),
    is_labeled: labeled > 0,
    total_annotations: labeled,
    cancelled_annotations: annotations.length - labeled,
    total_predictions: t.predictions?.length ?? 0,
    ...(t.source ? { source: t.source } : {}),
    created_at: t.now,
    updated_at: t.now,
  };
  return { task, annotations, labeled };
}
