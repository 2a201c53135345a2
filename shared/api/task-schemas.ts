/**
 * Bodies of the single-task writes (`POST /api/tasks`, `PATCH /api/tasks/{id}`), registered for
 * OpenAPI. Messages are Django REST framework's, which Label Studio clients print or match on.
 */
import { z } from 'zod';
import { apiRegistry } from './validation';

/** DRF's wording for a missing, null or non-object value of a JSON object field. */
function objectFieldError(issue: { input?: unknown }): string {
  if (issue.input === undefined) return 'This field is required.';
  if (issue.input === null) return 'This field may not be null.';
  return `Expected a dictionary of items but got type "${Array.isArray(issue.input) ? 'list' : typeof issue.input}".`;
}

const dataField = z.record(z.string(), z.unknown(), { error: objectFieldError });

/** An object, as `meta` of import and of the task shape (Label Studio also tolerates a list there). */
const metaField = z.record(z.string(), z.unknown(), { error: objectFieldError });

export const TaskCreateSchema = z
  .object({
    project: z.number().int().describe('Project id (of the caller\'s organization, else 404).'),
    data: dataField.describe('Task data, stored as given (storage URIs stay raw). Every data key of the label config must be present.'),
    meta: metaField.optional(),
  })
  .describe('Other Label Studio task columns (counters, inner_id, annotations, predictions) are ignored on this route.')
  .register(apiRegistry, { id: 'TaskCreate' });

export const TaskPatchSchema = z
  .object({
    data: dataField.optional().describe('Replaces the whole data object; checked against the label config like POST.'),
    meta: metaField.optional().describe('Replaces the whole meta value.'),
    project: z.number().int().optional().describe('Only the task\'s own project is accepted: tasks cannot move.'),
  })
  .describe('Counters, inner_id, is_labeled and overlap are ignored (labelsync maintains them).')
  .register(apiRegistry, { id: 'TaskPatch' });
