/**
 * Fields of every storage type and role, as one table: which fields exist, which are secret
 * (write-only), their defaults (Label Studio's) and their zod schemas. Create/patch/validate
 * bodies and the OpenAPI components are all generated from here.
 */
import { z } from 'zod';
import { STORAGE_TYPES, type StorageRole, type StorageType } from '../storage/types';
import { MAX_CREDENTIALS_JSON_CHARS, MAX_SHORT_FIELD_CHARS, MAX_TEXT_FIELD_CHARS } from '../http/limits';
import { apiRegistry } from './validation';

// Caps keep a storage item under DynamoDB's 400 KB (shared/http/limits.ts).
const str = z.string().max(MAX_SHORT_FIELD_CHARS, `Ensure this field has no more than ${MAX_SHORT_FIELD_CHARS} characters.`).nullable();
const bool = z.boolean().nullable();

/** Every writable field: its schema (types only; shape rules live in the provider registry). */
const FIELD_SCHEMAS = {
  title: z.string().max(256, 'Ensure this field has no more than 256 characters.').nullable(),
  description: z.string().max(MAX_TEXT_FIELD_CHARS, `Ensure this field has no more than ${MAX_TEXT_FIELD_CHARS} characters.`).nullable(),
  synchronizable: z.boolean(),
  prefix: str,
  regex_filter: str.describe('Regular expression matched against the full object key (re.match: anchored at the start).'),
  use_blob_urls: bool.describe('true: one task per object pointing at its URI; false: objects are JSON task files.'),
  presign: bool,
  presign_ttl: z.number().int('A valid integer is required.').min(1).max(65535).nullable().describe('Presigned URL lifetime in MINUTES (Label Studio semantics).'),
  recursive_scan: bool,
  inline_presign: bool.describe('Put presigned URLs straight into task data (Label Studio\'s older behaviour) instead of resolve URLs; saves the redirect hop for clients that fetch promptly.'),
  can_delete_objects: bool,
  sync_deletions: z.enum(['keep', 'remove', 'flag']).describe('What import sync does for tasks whose source object is gone.'),
  export_key_format: z.enum(['id', 'id_json']).describe('Object key of exported annotations: "<id>" (LS) or "<id>.json".'),
  bucket: str,
  region_name: str,
  s3_endpoint: str,
  aws_sse_kms_key_id: str,
  aws_access_key_id: str,
  aws_secret_access_key: str,
  aws_session_token: str,
  role_arn: str,
  external_id: str,
  legacy_auth: bool,
  google_project_id: str,
  google_application_credentials: z.string().max(MAX_CREDENTIALS_JSON_CHARS, `Ensure this field has no more than ${MAX_CREDENTIALS_JSON_CHARS} characters.`).nullable().describe('Content of a service-account JSON file.'),
  gcs_endpoint: str,
  container: str,
  account_name: str,
  account_key: str,
  tenant_id: str,
  client_id: str,
  client_secret: str,
  azure_endpoint: str,
  host: str,
  port: z.union([z.string(), z.number().int()]).nullable(),
  db: z.number().int('A valid integer is required.').min(0).max(65535).nullable(),
  password: str,
  path: str,
} as const;

export type StorageFieldName = keyof typeof FIELD_SCHEMAS;

const COMMON: StorageFieldName[] = ['title', 'description', 'synchronizable'];
const CLOUD: StorageFieldName[] = ['prefix', 'regex_filter', 'use_blob_urls'];
const CLOUD_IMPORT: StorageFieldName[] = ['presign', 'presign_ttl', 'recursive_scan', 'inline_presign'];

const TYPE_FIELDS: Record<StorageType, StorageFieldName[]> = {
  s3: [...CLOUD, 'bucket', 'region_name', 's3_endpoint', 'aws_sse_kms_key_id', 'aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'],
  s3s: [...CLOUD, 'bucket', 'region_name', 's3_endpoint', 'aws_sse_kms_key_id', 'aws_access_key_id', 'aws_secret_access_key', 'aws_session_token', 'role_arn', 'external_id', 'legacy_auth'],
  gcs: [...CLOUD, 'bucket', 'google_project_id', 'google_application_credentials', 'gcs_endpoint'],
  azure: [...CLOUD, 'container', 'account_name', 'account_key', 'azure_endpoint'],
  azure_spi: [...CLOUD, 'container', 'account_name', 'tenant_id', 'client_id', 'client_secret', 'azure_endpoint'],
  redis: ['path', 'regex_filter', 'use_blob_urls', 'host', 'port', 'db', 'password'],
  localfiles: ['path', 'regex_filter', 'use_blob_urls'],
};

/** Write-only fields per type: encrypted at rest, never in any response. */
export const SECRET_FIELDS: Record<StorageType, StorageFieldName[]> = {
  s3: ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'],
  s3s: ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'],
  gcs: ['google_application_credentials'],
  // Label Studio hides the account name of key-based Azure storages too.
  azure: ['account_name', 'account_key'],
  azure_spi: ['client_secret'],
  redis: ['password'],
  localfiles: [],
};

/** Fields of a type and role, in response order. */
export function storageFields(type: StorageType, role: StorageRole): StorageFieldName[] {
  const extra: StorageFieldName[] =
    role === 'import'
      ? [...(['redis'].includes(type) ? [] : type === 'localfiles' ? (['recursive_scan'] as StorageFieldName[]) : CLOUD_IMPORT), 'sync_deletions']
      : ['can_delete_objects', 'export_key_format'];
  return [...COMMON, ...TYPE_FIELDS[type], ...extra];
}

/** Label Studio's defaults of a new storage (fields not listed default to null). */
export function storageDefaults(type: StorageType, role: StorageRole): Record<string, unknown> {
  const d: Record<string, unknown> = { synchronizable: true, use_blob_urls: false };
  if (role === 'import') {
    d.sync_deletions = 'keep';
    d.recursive_scan = false;
    if (type !== 'redis' && type !== 'localfiles') {
      d.presign = true;
      d.presign_ttl = 1;
      d.inline_presign = false;
    }
  } else {
    d.export_key_format = 'id';
  }
  if (type === 'redis') d.db = role === 'import' ? 1 : 2;
  const fields = new Set(storageFields(type, role));
  return Object.fromEntries(Object.entries(d).filter(([k]) => fields.has(k as StorageFieldName)));
}

/** Fields the API returns but never accepts (sync bookkeeping and identity); ignored in bodies. */
export const READ_ONLY_FIELDS = ['id', 'type', 'created_at', 'updated_at', 'status', 'last_sync', 'last_sync_count', 'last_sync_job', 'traceback', 'meta'] as const;

const cache = new Map<string, z.ZodObject>();

/** Storage types by role that exist in this deployment order (LS's five, then ours). */
export const TYPE_TITLES: { name: StorageType; title: string }[] = [
  { name: 's3', title: 'AWS S3' },
  { name: 'gcs', title: 'Google Cloud Storage' },
  { name: 'azure', title: 'Microsoft Azure' },
  { name: 'redis', title: 'Redis' },
  { name: 'localfiles', title: 'Local files' },
  { name: 's3s', title: 'AWS S3 (IAM role)' },
  { name: 'azure_spi', title: 'Microsoft Azure (service principal)' },
];

const pascal = (t: StorageType, role: StorageRole) =>
  t.split('_').map((p) => p[0].toUpperCase() + p.slice(1)).join('') + (role === 'import' ? 'Import' : 'Export');

/**
 * Body schema of a type and role. `create`: `project` required, defaults documented;
 * `patch`: everything optional, `project` optional (must equal the stored one);
 * `validate`: create body with optional `project` and `id`. Unknown keys are ignored (as LS).
 */
export function storageBodySchema(type: StorageType, role: StorageRole, mode: 'create' | 'patch' | 'validate'): z.ZodObject {
  const key = `${type}/${role}/${mode}`;
  let s = cache.get(key);
  if (s) return s;
  const defaults = storageDefaults(type, role);
  const secrets = new Set(SECRET_FIELDS[type]);
  const shape: Record<string, z.ZodType> = {
    project: mode === 'create' ? z.number({ error: 'This field is required.' }).int() : z.number().int().optional(),
  };
  for (const f of storageFields(type, role)) {
    let fs: z.ZodType = FIELD_SCHEMAS[f];
    if (secrets.has(f)) fs = fs.describe(`${fs.description ?? ''} Write-only: never returned; omit to keep, "" to clear.`.trim());
    if (mode === 'create' && f in defaults) fs = fs.meta({ default: defaults[f] });
    shape[f] = fs.optional();
  }
  if (mode === 'validate') shape.id = z.number().int().optional().describe('Validate the stored storage with this body overlaid (not saved).');
  s = z.object(shape);
  s.register(apiRegistry, { id: `${pascal(type, role)}Storage${{ create: 'Create', patch: 'Patch', validate: 'Validate' }[mode]}` });
  cache.set(key, s);
  return s;
}

/** Response schema of a storage of a type and role (for the OpenAPI document). */
export function storageResponseSchema(type: StorageType, role: StorageRole): z.ZodObject {
  const key = `${type}/${role}/response`;
  let s = cache.get(key);
  if (s) return s;
  const secrets = new Set(SECRET_FIELDS[type]);
  const shape: Record<string, z.ZodType> = { id: z.number().int(), type: z.literal(type), project: z.number().int() };
  for (const f of storageFields(type, role)) {
    if (secrets.has(f)) shape[`has_${f}`] = z.boolean().describe(`Whether ${f} is stored (the value itself is write-only).`);
    else shape[f] = FIELD_SCHEMAS[f];
  }
  Object.assign(shape, {
    status: z.enum(['initialized', 'queued', 'in_progress', 'failed', 'completed', 'completed_with_errors']),
    last_sync: z.string().nullable(),
    last_sync_count: z.number().int().nullable(),
    last_sync_job: z.string().nullable(),
    traceback: z.string().nullable(),
    meta: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
  });
  s = z.object(shape).register(apiRegistry, { id: `${pascal(type, role)}Storage` });
  cache.set(key, s);
  return s;
}

/** Builds every storage schema once (so the OpenAPI registry holds them all). */
export function registerAllStorageSchemas(): void {
  for (const t of STORAGE_TYPES) {
    for (const r of ['import', 'export'] as const) {
      storageBodySchema(t, r, 'create');
      storageBodySchema(t, r, 'patch');
      storageBodySchema(t, r, 'validate');
      storageResponseSchema(t, r);
    }
  }
}
