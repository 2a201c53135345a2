/**
 * The OpenAPI 3.1 document of the REST API, generated from the same zod schemas the handlers
 * validate with (`apiRegistry`), so documentation and behaviour cannot drift. The operation list
 * below is checked against the routers by test/unit/api-openapi.test.ts.
 */
import { z } from 'zod';
import { STORAGE_TYPES, type StorageRole } from '../storage/types';
import { PUSH_TYPES } from './storage-events/push-types';
import './project-schemas';
import './task-schemas';
import '../webhooks/schemas';
import { registerAllStorageSchemas } from './storage-schemas';
import { apiRegistry } from './validation';

type Op = {
  summary: string;
  request?: string;
  /** `html`: the browser console's page (static, no token). */
  response?: string | { array: string } | 'empty' | 'html';
  status?: number;
  query?: { name: string; required?: boolean; description: string }[];
};
const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

const pascal = (t: string, role: StorageRole) =>
  t.split('_').map((p) => p[0].toUpperCase() + p.slice(1)).join('') + (role === 'import' ? 'Import' : 'Export');

type Ops = Record<string, Record<string, Op>>;
const projectQ = [{ name: 'project', required: true, description: 'Project id.' }];
const resolveUriQ = { name: 'resolve_uri', description: 'false/0/no/off: data exactly as stored (raw storage URIs); default true: storage URIs become resolve URLs.' };

/** Every documented operation: path (router pattern syntax) → method → operation. */
export function operations(): Ops {
  const ops: Ops = {
    '/health': { get: { summary: 'Liveness check (no authentication).', response: 'Health' } },
    '/api/openapi.json': { get: { summary: 'This document.' } },
    // The browser console: static files, no token (docs/console.md). `{path+}` is the rest of the path.
    '/': { get: { summary: 'The browser console (no authentication).', response: 'html' } },
    '/console': { get: { summary: 'The browser console (no authentication).', response: 'html' } },
    '/console/{path+}': { get: { summary: 'A console page (deep link) or a hashed asset under /console/assets/ (no authentication).', response: 'html' } },
    '/api/organizations/current': {
      get: { summary: "The caller's organization: id, title and the external_id its s3s roles' trust policies must require (sts:ExternalId).", response: 'Organization' },
    },
    ...projectOperations(),
    ...taskOperations(),
    ...webhookOperations(),
    '/api/storages': { get: { summary: 'All import storages of a project.', query: projectQ } },
    '/api/storages/types': { get: { summary: 'Import storage types.', response: { array: 'StorageType' } } },
    '/api/storages/export': { get: { summary: 'All export storages of a project.', query: projectQ } },
    '/api/storages/export/types': { get: { summary: 'Export storage types.', response: { array: 'StorageType' } } },
  };
  for (const role of ['import', 'export'] as const) {
    for (const t of STORAGE_TYPES) Object.assign(ops, storageOperations(role, t));
  }
  Object.assign(ops, mediaOperations());
  return ops;
}

function projectOperations(): Ops {
  return {
    '/api/projects': {
      get: { summary: 'List projects of the organization (page, page_size).', response: 'ProjectList', query: [{ name: 'page', description: '1-based page.' }, { name: 'page_size', description: 'Default 100, max 1000.' }, { name: 'cursor', description: 'Set in the `next` link of a page cut by response size.' }] },
      post: { summary: 'Create a project.', request: 'ProjectCreate', response: 'Project', status: 201 },
    },
    '/api/projects/{id}': {
      get: { summary: 'Get a project.', response: 'Project' },
      patch: { summary: 'Update title, description, label_config.', request: 'ProjectCreate', response: 'Project' },
      delete: { summary: 'Delete a project with its tasks, annotations and storages.', response: 'empty', status: 204 },
    },
    '/api/projects/{id}/tasks': {
      delete: {
        summary: 'Delete every task of the project with its annotations, and reset its import storages so the next sync imports every object again. 204 when done; 202 when the time budget ran out first (repeat the request).',
        response: 'empty',
        status: 204,
      },
    },
    '/api/projects/{id}/import': {
      post: {
        summary: 'Import tasks (JSON array or object).',
        request: 'TaskImport',
        response: 'ImportResult',
        status: 201,
        query: [{ name: 'return_task_ids', description: '1/true: include the new ids as task_ids.' }],
      },
    },
  };
}

function taskOperations(): Ops {
  return {
    '/api/tasks': {
      get: {
        summary: 'List tasks of a project in id order.',
        response: 'TaskList',
        query: [
          ...projectQ,
          { name: 'page', description: '1-based page (reads earlier ids; prefer cursor for deep pages).' },
          { name: 'page_size', description: 'Default 100, max 1000.' },
          { name: 'cursor', description: 'The `next` value of the previous page.' },
          resolveUriQ,
        ],
      },
      post: { summary: 'Create one task in a project (data as stored in the response).', request: 'TaskCreate', response: 'Task', status: 201 },
    },
    '/api/tasks/{id}': {
      get: { summary: 'Get a task with its annotations.', response: 'Task', query: [resolveUriQ] },
      patch: { summary: 'Replace data and/or meta of a task (data as stored in the response).', request: 'TaskPatch', response: 'Task' },
      delete: { summary: 'Delete a task and its annotations.', response: 'empty', status: 204 },
    },
    '/api/tasks/{id}/annotations': {
      get: { summary: 'Annotations of a task.', response: { array: 'Annotation' } },
      post: { summary: 'Create an annotation.', request: 'AnnotationCreate', response: 'Annotation', status: 201 },
    },
    '/api/annotations/{id}': {
      get: { summary: 'Get an annotation.', response: 'Annotation' },
      patch: { summary: 'Update an annotation (bumps version).', request: 'AnnotationPatch', response: 'Annotation' },
      delete: { summary: 'Delete an annotation.', response: 'empty', status: 204 },
    },
  };
}

function webhookOperations(): Ops {
  return {
    '/api/webhooks/info': { get: { summary: 'Webhook actions (no authentication); `organization-only=true` lists only organization-level ones.', query: [{ name: 'organization-only', description: 'true/1/yes: only organization-only actions; any other value: the others.' }] } },
    '/api/webhooks': {
      get: { summary: "The organization's webhooks (an array).", query: [{ name: 'project', description: 'Project id, or `null` for organization-level webhooks.' }] },
      post: { summary: 'Create a webhook; the response carries its signing `secret`, shown only here.', request: 'WebhookWrite', status: 201 },
    },
    '/api/webhooks/{id}': {
      get: { summary: 'Get a webhook (header values masked, no secret).' },
      patch: { summary: 'Update a webhook; absent `actions` stay; `rotate_secret: true` returns a new `secret`.', request: 'WebhookWrite' },
      put: { summary: 'Update a webhook (`url` required).', request: 'WebhookWrite' },
      delete: { summary: 'Delete a webhook.', response: 'empty', status: 204 },
    },
    '/api/webhooks/{id}/deliveries': {
      get: {
        summary: 'Delivery log, newest first: `{results: [{id, action, status, attempts, response_status, error, created_at, updated_at}], next}`.',
        query: [
          { name: 'status', description: 'pending, delivered or failed (failed = dead-lettered).' },
          { name: 'page_size', description: 'Default 50, max 200.' },
          { name: 'cursor', description: 'From the `next` path of the previous page.' },
        ],
      },
    },
  };
}

/** The routes of one storage type in one role (list/create, validate, files, item, sync). */
function storageOperations(role: StorageRole, t: string): Ops {
  const ops: Ops = {};
  const base = role === 'import' ? `/api/storages/${t}` : `/api/storages/export/${t}`;
  const n = `${pascal(t, role)}Storage`;
  ops[base] = {
    get: { summary: `List ${t} ${role} storages of a project.`, response: { array: n }, query: projectQ },
    post: { summary: `Create a ${t} ${role} storage (checks the connection).`, request: `${n}Create`, response: n, status: 201 },
  };
  ops[`${base}/validate`] = { post: { summary: 'Check a configuration without saving (with `id`: merged over the stored one).', request: `${n}Validate`, response: 'empty' } };
  if (role === 'import') ops[`${base}/files`] = { post: { summary: 'Preview the keys a sync would see (validate body plus `limit`, default 100).', request: `${n}Validate`, response: 'FilesPreview' } };
  ops[`${base}/{id}`] = {
    get: { summary: 'Get a storage.', response: n },
    patch: { summary: 'Update a storage (omitted secrets kept, "" clears).', request: `${n}Patch`, response: n },
    put: { summary: 'Full update (project required).', request: `${n}Create`, response: n },
    delete: { summary: 'Delete a storage (tasks kept; a running sync is cancelled).', response: 'empty', status: 204 },
  };
  ops[`${base}/{id}/sync`] = { post: { summary: `Start a${role === 'import' ? 'n import' : 'n export'} sync (queued; poll the storage status).`, response: n } };
  if (role === 'import' && (PUSH_TYPES as readonly string[]).includes(t)) ops[`${base}/{id}/events`] = pushOperations(t);
  return ops;
}

/** Event-sync push endpoints: the notifier's POST (no Token; see the summaries) and the owner's GET. */
function pushOperations(t: string): Record<string, Op> {
  if (t === 'gcs') {
    return {
      get: { summary: 'What a Pub/Sub push subscription for this storage needs: push_endpoint, audience, service_account.' },
      post: { summary: 'Pub/Sub push of a Cloud Storage notification. No Token: Authorization: Bearer <Google OIDC token> for event_push_service_account and the storage\'s audience (401/403 otherwise); 409 while event_sync is off.' },
    };
  }
  return {
    get: { summary: "The storage's Event Grid webhook_url (with its secret) for `az eventgrid event-subscription create`." },
    post: { summary: 'Event Grid delivery (Event Grid or CloudEvents schema): the validation handshake, BlobCreated/BlobDeleted. No Token: the webhook secret as ?code= or X-Labelsync-Event-Secret (401 otherwise); 409 while event_sync is off.' },
    options: { summary: 'CloudEvents webhook handshake: WebHook-Request-Origin answered with WebHook-Allowed-Origin (webhook secret required).', response: 'empty' },
  };
}

/**
 * Media routes (functions/api/resolve.ts): browsers call them with the signed `token` the task
 * API puts into the URLs, scripts with the Authorization header.
 */
function mediaOperations(): Ops {
  const ops: Ops = {};
  const media = [
    { name: 'fileuri', required: true, description: 'URL-safe base64 (padded or not) of the storage URI, or the URI URL-encoded.' },
    { name: 'token', description: 'Signed media token from the task API (instead of the Authorization header).' },
  ];
  const resolveSummary = (of: string) =>
    `Resolve a storage URI of ${of}: presign on → 303 to a fresh presigned URL; off → the object streamed (Range → 206, HEAD, ETag/304); 403 bad or expired token; 404 no matching storage or object; 424 store failure.`;
  for (const verb of ['resolve', 'presign']) {
    ops[`/tasks/{id}/${verb}`] = { get: { summary: resolveSummary('a task'), query: media, response: 'empty' } };
    ops[`/projects/{id}/${verb}`] = { get: { summary: resolveSummary('a project'), query: media, response: 'empty' } };
  }
  ops['/data/local-files'] = {
    get: {
      summary: 'Serve a file of a local-files source storage (LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true): Range, HEAD, weak ETag/304; 403 when serving is disabled.',
      query: [{ name: 'd', required: true, description: 'Path relative to LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT.' }, media[1]],
      response: 'empty',
    },
  };
  return ops;
}

z.object({ status: z.literal('UP') }).register(apiRegistry, { id: 'Health' });
z.object({ name: z.string(), title: z.string() }).register(apiRegistry, { id: 'StorageType' });
z.object({ id: z.string(), title: z.string(), external_id: z.string() }).register(apiRegistry, { id: 'Organization' });
z.object({
  files: z.array(z.object({ key: z.string().nullable(), last_modified: z.string().nullable(), size: z.number().int().nullable() })),
}).register(apiRegistry, { id: 'FilesPreview' });

let cached: Record<string, unknown> | undefined;

/** The OpenAPI 3.1 document (built once per process). */
export function openApiDocument(): Record<string, unknown> {
  if (cached) return cached;
  registerAllStorageSchemas();
  const { schemas } = z.toJSONSchema(apiRegistry, { uri: (id) => `#/components/schemas/${id}`, io: 'input', unrepresentable: 'any' });
  for (const s of Object.values(schemas)) {
    delete (s as Record<string, unknown>).$schema;
    delete (s as Record<string, unknown>).$id;
  }
  const errorResponse = (d: string) => ({ description: d, content: { 'application/json': { schema: ref('Error') } } });
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(operations())) {
    paths[path] = {};
    for (const [method, op] of Object.entries(methods)) {
      const params = [
        ...[...path.matchAll(/\{(\w+)(\+?)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: m[2] ? 'string' : 'integer' } })),
        ...(op.query ?? []).map((q) => ({ name: q.name, in: 'query', required: !!q.required, description: q.description, schema: { type: 'string' } })),
      ];
      const status = String(op.status ?? 200);
      const isPublic = path === '/health' || op.response === 'html';
      const success =
        op.response === 'empty'
          ? { description: 'No content.' }
          : op.response === 'html'
            ? { description: 'The console page (text/html), or an asset (text/javascript, text/css).', content: { 'text/html': { schema: { type: 'string' } } } }
          : op.response === undefined
            ? { description: 'OK', content: { 'application/json': { schema: {} } } }
            : { description: 'OK', content: { 'application/json': { schema: typeof op.response === 'string' ? ref(op.response) : { type: 'array', items: ref(op.response.array) } } } };
      paths[path][method] = {
        summary: op.summary,
        ...(isPublic ? { security: [] } : {}),
        ...(params.length ? { parameters: params } : {}),
        ...(op.request ? { requestBody: { required: true, content: { 'application/json': { schema: ref(op.request) } } } } : {}),
        responses: {
          [status]: success,
          ...(op.request || op.query ? { 400: errorResponse('Validation error (per-field messages).') } : {}),
          ...(isPublic ? {} : { 401: errorResponse('Missing or invalid token.') }),
          ...(path.includes('{') ? { 404: errorResponse(op.response === 'html' ? 'Unknown asset.' : 'Unknown id, or an id of another organization.') } : {}),
        },
      };
    }
  }
  cached = {
    openapi: '3.1.0',
    info: { title: 'labelsync', version: '0.1.0', description: 'Label-Studio-compatible storage API. Authenticate with `Authorization: Token <token>`.' },
    security: [{ token: [] }],
    components: {
      securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'Token <token>' } },
      schemas,
    },
    paths,
  };
  return cached;
}
