/**
 * The events the use cases emit, built from stored items in Label Studio's webhook payload shapes
 * (its webhook serializers, not the API's: task data as stored, storage URIs unresolved, the
 * placeholder data key of blob-mode tasks renamed to the label config's first key). The project
 * payload is an allow-list of fields: nothing secret is ever sent.
 */
import type { AnnotationItem, ProjectItem, StorageItem, TaskItem } from '../db/items';
import type { WebhookAction } from './actions';
import type { LabelsyncEvent } from './types';

/** The project object of every payload. */
export function projectPayload(p: ProjectItem): { id: number } & Record<string, unknown> {
  return {
    id: p.id,
    title: p.title,
    description: p.description,
    label_config: p.label_config,
    task_number: p.task_number ?? 0,
    total_annotations_number: p.total_annotations_number ?? 0,
    total_predictions_number: p.total_predictions_number ?? 0,
    created_at: p.created_at,
    updated_at: p.updated_at,
  };
}

/** A task as Label Studio's webhook serializer sends it. */
export function taskPayload(t: TaskItem, dataKeys: readonly string[] = []): Record<string, unknown> {
  let data = t.data ?? {};
  const first = dataKeys[0];
  if (first && '$undefined$' in data && !(first in data)) {
    const { $undefined$: v, ...rest } = data;
    data = { [first]: v, ...rest };
  }
  return {
    id: t.id,
    data,
    meta: t.meta ?? {},
    project: t.projectId,
    is_labeled: t.is_labeled,
    overlap: 1,
    total_annotations: t.total_annotations ?? 0,
    cancelled_annotations: t.cancelled_annotations ?? 0,
    total_predictions: t.total_predictions ?? 0,
    file_upload: null,
    storage_filename: t.source?.key ?? null,
    created_at: t.created_at,
    updated_at: t.updated_at,
  };
}

/** An annotation as Label Studio's webhook serializer sends it. */
export function annotationPayload(a: AnnotationItem): Record<string, unknown> {
  return {
    id: a.id,
    result: a.result,
    was_cancelled: a.was_cancelled,
    ground_truth: a.ground_truth,
    lead_time: a.lead_time,
    task: a.taskId,
    project: a.projectId,
    completed_by: a.completed_by,
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

export function tasksCreated(project: ProjectItem, tasks: readonly TaskItem[], eventId?: string): LabelsyncEvent {
  return { action: 'TASKS_CREATED', orgId: project.orgId, project: projectPayload(project), objects: tasks.map((t) => taskPayload(t, project.data_keys)), eventId };
}

export function tasksDeleted(project: ProjectItem, taskIds: readonly number[], eventId?: string): LabelsyncEvent {
  return { action: 'TASKS_DELETED', orgId: project.orgId, project: projectPayload(project), objects: taskIds.map((id) => ({ id })), eventId };
}

export function annotationEvent(action: 'ANNOTATION_CREATED' | 'ANNOTATION_UPDATED', project: ProjectItem, task: TaskItem, a: AnnotationItem): LabelsyncEvent {
  return { action, orgId: project.orgId, project: projectPayload(project), objects: annotationPayload(a), extra: { task: taskPayload(task, project.data_keys) } };
}

export function annotationsDeleted(project: ProjectItem, annotationIds: readonly number[]): LabelsyncEvent {
  return { action: 'ANNOTATIONS_DELETED', orgId: project.orgId, project: projectPayload(project), objects: annotationIds.map((id) => ({ id })) };
}

export function projectEvent(action: Extract<WebhookAction, `PROJECT_${string}`>, p: ProjectItem): LabelsyncEvent {
  const payload = action === 'PROJECT_DELETED' ? { id: p.id } : projectPayload(p);
  // PROJECT_CREATED/DELETED are organization-only: the payload is the object, the event has no project scope.
  return { action, orgId: p.orgId, project: action === 'PROJECT_UPDATED' ? payload : null, objects: payload };
}

/** The `storage_sync` object of STORAGE_SYNC_COMPLETED / STORAGE_SYNC_FAILED. */
export interface StorageSyncOutcome {
  job_id: string;
  status: string;
  counters: Record<string, unknown>;
  /** Per-object failures (at most the first recorded ones) and the job-level error, secret-free. */
  errors: { key?: string; reason: string }[];
  traceback: string | null;
}

export function storageSyncEvent(storage: StorageItem, project: ProjectItem | undefined, outcome: StorageSyncOutcome): LabelsyncEvent {
  const failed = outcome.status === 'failed';
  return {
    action: failed ? 'STORAGE_SYNC_FAILED' : 'STORAGE_SYNC_COMPLETED',
    orgId: storage.orgId,
    project: project ? projectPayload(project) : { id: storage.projectId },
    objects: { storage: { id: storage.id, type: storage.type, role: storage.role }, ...outcome },
    eventId: `sync-${outcome.job_id}-${failed ? 'failed' : 'done'}`,
  };
}

export function exportFailed(storage: StorageItem, error: { code: string; reason: string }, failingSince: string): LabelsyncEvent {
  return {
    action: 'EXPORT_FAILED',
    orgId: storage.orgId,
    project: { id: storage.projectId },
    objects: { storage: { id: storage.id, type: storage.type, role: storage.role }, error, failing_since: failingSince },
  };
}
