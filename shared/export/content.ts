/**
 * Content of an exported annotation (Label Studio's annotation mode): the annotation
 * serialised with Label Studio's field names and its task nested. The task's data goes out raw
 * (storage URIs are not resolved: the export is data, not a view), only `$undefined$` is renamed
 * to the project's first data variable, exactly as the task API shows it.
 */
import type { AnnotationItem, ProjectItem, TaskItem } from '../db/items';
import { BACKENDS, backend } from '../storage/backends';
import type { BackendDefinition } from '../storage/backends/definition';
import type { StorageType } from '../storage/types';

/** Label Studio's placeholder key for blob-mode task data (`DATA_UNDEFINED_NAME`). */
export const DATA_UNDEFINED_NAME = '$undefined$';

/** What one exported document is built from. */
export interface ExportSource {
  annotation: AnnotationItem;
  task: TaskItem;
  project: Pick<ProjectItem, 'id' | 'data_keys'>;
}

/**
 * Task data as exported: a shallow copy with `$undefined$` renamed to the first data key of the
 * label config (kept as is when the config has none). Never mutates its input.
 */
export function exportTaskData(data: Record<string, unknown>, dataKeys: readonly string[]): Record<string, unknown> {
  if (!(DATA_UNDEFINED_NAME in data) || !dataKeys[0]) return { ...data };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) out[k === DATA_UNDEFINED_NAME ? dataKeys[0] : k] = v;
  return out;
}

const UNITS: Array<[string, number]> = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['week', 7 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];

/**
 * Django's `timesince` as Label Studio's `created_ago` shows it: up to two adjacent units,
 * joined by ", ", with non-breaking spaces ("3\u00a0hours, 2\u00a0minutes"; under a minute → "0\u00a0minutes").
 */
export function timeSince(from: Date, now: Date): string {
  const secs = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
  const part = (n: number, unit: string) => `${n}\u00a0${unit}${n === 1 ? '' : 's'}`;
  for (let i = 0; i < UNITS.length; i++) {
    const [unit, size] = UNITS[i];
    const n = Math.floor(secs / size);
    if (n === 0) continue;
    const next = UNITS[i + 1];
    const m = next ? Math.floor((secs - n * size) / next[1]) : 0;
    return m > 0 ? `${part(n, unit)}, ${part(m, next[0])}` : part(n, unit);
  }
  return part(0, 'minute');
}

/**
 * The exported document (a plain object, not yet serialised). `now` only feeds `created_ago`,
 * so equal inputs give equal documents. labelsync keeps no user profiles: `completed_by` carries
 * the user id with empty name and email, in Label Studio's shape.
 */
export function buildExportDocument(src: ExportSource, now: Date): Record<string, unknown> {
  const { annotation: a, task: t, project: p } = src;
  const result = Array.isArray(a.result) ? a.result : [];
  return {
    id: a.id,
    result,
    created_username: a.completed_by === null ? '' : ` , ${a.completed_by}`,
    created_ago: timeSince(new Date(a.created_at), now),
    completed_by: a.completed_by === null ? null : { id: a.completed_by, first_name: '', last_name: '', email: '' },
    was_cancelled: a.was_cancelled,
    ground_truth: a.ground_truth,
    created_at: a.created_at,
    updated_at: a.updated_at,
    draft_created_at: null,
    lead_time: a.lead_time,
    prediction: {},
    result_count: result.length,
    import_id: a.import_id ?? null,
    last_action: null,
    bulk_created: false,
    project: p.id,
    updated_by: a.completed_by,
    parent_prediction: null,
    parent_annotation: null,
    last_created_by: null,
    task: {
      id: t.id,
      data: exportTaskData(t.data ?? {}, p.data_keys ?? []),
      meta: t.meta ?? {},
      created_at: t.created_at,
      updated_at: t.updated_at,
      is_labeled: t.is_labeled,
      overlap: 1,
      inner_id: t.id,
      total_annotations: t.total_annotations,
      cancelled_annotations: t.cancelled_annotations,
      total_predictions: t.total_predictions,
      comment_count: 0,
      unresolved_comment_count: 0,
      last_comment_updated_at: null,
      project: p.id,
      updated_by: null,
      file_upload: null,
      comment_authors: [],
    },
  };
}

/**
 * Serialises a document for one target type of `defs` (default the registered ones): compact,
 * or pretty-printed with the type's `exportJsonIndent`.
 */
export function serializeExportDocument(
  doc: Record<string, unknown>,
  type: StorageType,
  defs: Readonly<Record<string, BackendDefinition>> = BACKENDS,
): string {
  return JSON.stringify(doc, null, backend(type, defs)?.capabilities?.exportJsonIndent);
}
