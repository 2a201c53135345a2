/**
 * Request and response schemas of projects, tasks and annotations (registered for OpenAPI).
 */
import { z } from 'zod';
import { MAX_ANNOTATION_RESULT_BYTES, MAX_LABEL_CONFIG_BYTES, MAX_TEXT_FIELD_CHARS } from '../http/limits';
import { apiRegistry } from './validation';

const jsonObject = z.record(z.string(), z.unknown());

export const ProjectCreateSchema = z
  .object({
    title: z.string().max(50, 'Ensure this field has no more than 50 characters.').nullable().optional(),
    description: z.string().max(MAX_TEXT_FIELD_CHARS, `Ensure this field has no more than ${MAX_TEXT_FIELD_CHARS} characters.`).nullable().optional(),
    label_config: z
      .string()
      .refine((s) => s.trim().startsWith('<'), 'Label config must be XML (e.g. <View>...</View>).')
      .refine((s) => Buffer.byteLength(s) <= MAX_LABEL_CONFIG_BYTES, `Label config is larger than ${MAX_LABEL_CONFIG_BYTES} bytes.`)
      .optional(),
  })
  .register(apiRegistry, { id: 'ProjectCreate', description: 'Body of POST /api/projects and PATCH /api/projects/{id}.' });

export const ProjectSchema = z
  .object({
    id: z.number().int(),
    title: z.string(),
    description: z.string(),
    label_config: z.string(),
    data_keys: z.array(z.string()).describe('Data variables of the label config in order ($image → image).'),
    task_number: z.number().int(),
    total_annotations_number: z.number().int(),
    total_predictions_number: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .register(apiRegistry, { id: 'Project' });

export const ProjectListSchema = z
  .object({ count: z.number().int(), next: z.string().nullable(), previous: z.string().nullable(), results: z.array(ProjectSchema) })
  .register(apiRegistry, { id: 'ProjectList' });

export const AnnotationInputSchema = z
  .object({
    result: z.array(z.unknown()).refine((r) => Buffer.byteLength(JSON.stringify(r)) <= MAX_ANNOTATION_RESULT_BYTES, `Annotation result is larger than ${MAX_ANNOTATION_RESULT_BYTES} bytes.`).default([]),
    completed_by: z
      .union([z.number().int(), z.object({ id: z.number().int() }).loose()])
      .nullable()
      .optional()
      .describe('User id; defaults to the caller.'),
    ground_truth: z.boolean().default(false),
    lead_time: z.number().nullable().optional(),
    was_cancelled: z.boolean().default(false),
    id: z.number().int().optional().describe('On import only: kept as import_id.'),
  })
  .register(apiRegistry, { id: 'AnnotationCreate' });

export const AnnotationPatchSchema = z
  .object({
    result: z.array(z.unknown()).refine((r) => Buffer.byteLength(JSON.stringify(r)) <= MAX_ANNOTATION_RESULT_BYTES, `Annotation result is larger than ${MAX_ANNOTATION_RESULT_BYTES} bytes.`).optional(),
    completed_by: z.number().int().nullable().optional(),
    ground_truth: z.boolean().optional(),
    lead_time: z.number().nullable().optional(),
    was_cancelled: z.boolean().optional(),
  })
  .register(apiRegistry, { id: 'AnnotationPatch' });

export const AnnotationSchema = z
  .object({
    id: z.number().int(),
    task: z.number().int(),
    project: z.number().int(),
    result: z.array(z.unknown()),
    completed_by: z.number().int().nullable(),
    ground_truth: z.boolean(),
    lead_time: z.number().nullable(),
    was_cancelled: z.boolean(),
    version: z.number().int(),
    import_id: z.number().int().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .register(apiRegistry, { id: 'Annotation' });

/** A wrapped import element: `data` plus task-level siblings. */
export const WrappedTaskSchema = z.object({
  data: jsonObject,
  annotations: z.array(AnnotationInputSchema).optional(),
  predictions: z.array(jsonObject).optional(),
  meta: jsonObject.optional(),
  allow_skip: z.boolean().optional(),
});

export const TaskImportSchema = z
  .union([z.array(jsonObject), jsonObject])
  .describe('An array of tasks (or one task). Each is a plain data object, or {data, annotations, predictions, meta}.')
  .register(apiRegistry, { id: 'TaskImport' });

export const ImportResultSchema = z
  .object({
    task_count: z.number().int(),
    annotation_count: z.number().int(),
    prediction_count: z.number().int(),
    duration: z.number(),
    file_upload_ids: z.array(z.number()),
    could_be_tasks_list: z.boolean(),
    found_formats: z.array(z.string()),
    data_columns: z.array(z.string()),
    task_ids: z.array(z.number().int()).optional().describe('With ?return_task_ids=1 (used by the Label Studio SDK).'),
  })
  .register(apiRegistry, { id: 'ImportResult' });

export const TaskSchema = z
  .object({
    id: z.number().int(),
    project: z.number().int(),
    data: jsonObject,
    meta: jsonObject,
    predictions: z.array(z.unknown()),
    annotations: z.array(AnnotationSchema).optional().describe('Only on GET /api/tasks/{id}.'),
    is_labeled: z.boolean(),
    overlap: z.number().int(),
    total_annotations: z.number().int(),
    cancelled_annotations: z.number().int(),
    total_predictions: z.number().int(),
    allow_skip: z.boolean(),
    storage_filename: z.string().nullable(),
    object_exists: z.boolean().describe('False when a sync with sync_deletions "flag" found the source object gone.'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .register(apiRegistry, { id: 'Task' });

export const TaskListSchema = z
  .object({
    tasks: z.array(TaskSchema),
    total: z.number().int(),
    total_annotations: z.number().int(),
    total_predictions: z.number().int(),
    next: z.string().nullable().describe('Opaque cursor of the next page (pass as ?cursor=); null on the last page.'),
  })
  .register(apiRegistry, { id: 'TaskList' });

export const TaskListQuerySchema = z.object({
  project: z.string().regex(/^\d+$/, 'A valid integer is required.'),
  page: z.string().regex(/^[1-9]\d{0,8}$/, 'A valid page number is required.').optional(),
  page_size: z.string().regex(/^[1-9]\d{0,8}$/, 'A valid page size is required.').optional(),
  cursor: z.string().optional(),
});

export const ErrorSchema = z
  .object({
    status_code: z.number().int(),
    detail: z.string(),
    validation_errors: z.record(z.string(), z.array(z.string())).optional(),
  })
  .register(apiRegistry, { id: 'Error' });
