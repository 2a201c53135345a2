/**
 * The Add/Edit storage form's fields, derived from the server's OpenAPI document
 * (`/api/openapi.json`: the request schema of `POST /api/storages[/export]/{type}`), so every type
 * and field the server accepts (automatic-sync fields included, when the server has them) appears
 * without a second list here. Only the labels and the order are the console's, in the wording of
 * Label Studio's storage guide.
 */
import { api } from './api';

export type Role = 'import' | 'export';
export type Widget = 'checkbox' | 'select' | 'number' | 'text' | 'textarea' | 'secret' | 'readonly';

export interface FieldSpec {
  name: string;
  label: string;
  widget: Widget;
  options?: string[];
  default?: unknown;
  required: boolean;
  /** Write-only: never returned; the form shows "stored" and a Replace control. */
  secret: boolean;
  help?: string;
}

export interface StorageType {
  name: string;
  title: string;
}

export type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string | string[];
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
};

/** Guide wording for each server field (a field missing here gets a readable form of its name). */
const LABELS: Record<string, string> = {
  title: 'Storage Title',
  description: 'Description',
  synchronizable: 'Synchronizable',
  bucket: 'Bucket Name',
  container: 'Container Name',
  prefix: 'Bucket Prefix',
  regex_filter: 'File Filter Regex',
  region_name: 'Region Name',
  s3_endpoint: 'S3 Endpoint',
  aws_access_key_id: 'Access Key ID',
  aws_secret_access_key: 'Secret Access Key',
  aws_session_token: 'Session Token',
  aws_sse_kms_key_id: 'SSE KMS Key ID',
  role_arn: 'Role ARN',
  external_id: 'External ID',
  legacy_auth: 'Legacy authentication',
  use_blob_urls: 'Treat every bucket object as a source file',
  recursive_scan: 'Recursive scan',
  presign: 'Use pre-signed URLs',
  presign_ttl: 'Expiration minutes',
  inline_presign: 'Put pre-signed URLs into task data',
  google_application_credentials: 'Google Application Credentials',
  google_project_id: 'Google Project ID',
  gcs_endpoint: 'GCS Endpoint',
  account_name: 'Account Name',
  account_key: 'Account Key',
  azure_endpoint: 'Azure Endpoint',
  tenant_id: 'Tenant ID',
  client_id: 'Client ID',
  client_secret: 'Client Secret',
  host: 'Host',
  port: 'Port',
  db: 'Database Number',
  password: 'Password',
  can_delete_objects: 'Can delete objects from storage',
  export_key_format: 'Export key format',
  sync_deletions: 'When a source object is deleted',
  sync_deletions_remove_annotated: 'Also remove tasks that have annotations',
  event_sync: 'Sync automatically on storage events',
  sync_schedule: 'Sync schedule',
};

const PATH_LABEL: Record<string, string> = { localfiles: 'Absolute local path', redis: 'Path' };

/** Order of the form: the guide's (title, location, filter, connection, credentials, options). */
const ORDER = [
  'title', 'bucket', 'container', 'path', 'host', 'port', 'db', 'prefix', 'regex_filter', 'region_name', 's3_endpoint',
  'gcs_endpoint', 'azure_endpoint', 'account_name', 'account_key', 'tenant_id', 'client_id', 'client_secret',
  'aws_access_key_id', 'aws_secret_access_key', 'aws_session_token', 'role_arn', 'external_id', 'google_application_credentials',
  'google_project_id', 'password', 'use_blob_urls', 'recursive_scan', 'presign', 'presign_ttl', 'can_delete_objects',
  'event_sync', 'sync_schedule',
];

/** Fields the server sets or the form does not edit. */
const SKIP = new Set(['project', 'id', 'type']);
const TEXTAREAS = new Set(['google_application_credentials', 'description']);

let doc: Promise<Schema> | undefined;
function openApi(): Promise<Schema> {
  doc ??= api<Schema>('GET', '/api/openapi.json').catch((e) => {
    doc = undefined;
    throw e;
  });
  return doc;
}

function resolveRef(root: Schema, s: Schema | undefined): Schema | undefined {
  if (!s?.$ref) return s;
  const name = s.$ref.replace('#/components/schemas/', '');
  return ((root.components as Schema | undefined)?.schemas as Record<string, Schema> | undefined)?.[name];
}

/** Every JSON type and enum a schema allows (through anyOf). */
function flatten(s: Schema): { types: Set<string>; enums: unknown[] } {
  const types = new Set<string>();
  const enums: unknown[] = [];
  const walk = (x: Schema) => {
    if (x.anyOf) x.anyOf.forEach(walk);
    if (Array.isArray(x.type)) x.type.forEach((t) => types.add(t));
    else if (x.type) types.add(x.type);
    if (x.enum) enums.push(...x.enum);
  };
  walk(s);
  return { types, enums };
}

function humanize(name: string): string {
  const s = name.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function rank(name: string): number {
  const i = ORDER.indexOf(name);
  return i < 0 ? ORDER.length : i;
}

/** The create-request schema of a storage type and role. */
function createSchema(root: Schema, role: Role, type: string): Schema | undefined {
  const path = role === 'export' ? `/api/storages/export/${type}` : `/api/storages/${type}`;
  const post = ((root.paths as Record<string, Schema> | undefined)?.[path]?.post ?? undefined) as Schema | undefined;
  const body = ((post?.requestBody as Schema | undefined)?.content as Record<string, Schema> | undefined)?.['application/json']?.schema as Schema | undefined;
  return resolveRef(root, body);
}

/**
 * The form fields of a storage type from an OpenAPI document (pure: the console's tests run it on
 * the server's own document). Throws an Error when the document describes no such type.
 */
export function fieldsFromDocument(root: Schema, role: Role, type: string): FieldSpec[] {
  const schema = createSchema(root, role, type);
  if (!schema?.properties) throw new Error(`The server's API description has no ${role === 'export' ? 'target' : 'source'} storage type "${type}".`);
  const required = new Set(schema.required ?? []);
  const fields: FieldSpec[] = [];
  for (const [name, raw] of Object.entries(schema.properties)) {
    if (SKIP.has(name)) continue;
    const prop = resolveRef(root, raw) ?? raw;
    const { types, enums } = flatten(prop);
    const secret = /write-only/i.test(prop.description ?? '');
    let widget: Widget;
    if (name === 'external_id') widget = 'readonly';
    else if (secret) widget = TEXTAREAS.has(name) ? 'textarea' : 'secret';
    else if (enums.length > 0) widget = 'select';
    else if (types.has('boolean')) widget = 'checkbox';
    else if ((types.has('integer') || types.has('number')) && !types.has('string')) widget = 'number';
    else widget = TEXTAREAS.has(name) ? 'textarea' : 'text';
    const label = name === 'path' ? (PATH_LABEL[type] ?? 'Path') : (LABELS[name] ?? humanize(name));
    fields.push({
      name,
      label,
      widget,
      options: enums.length ? enums.map(String) : undefined,
      default: prop.default,
      required: required.has(name),
      secret,
      help: secret ? undefined : prop.description,
    });
  }
  return fields.sort((a, b) => rank(a.name) - rank(b.name));
}

/** The form fields of a storage type, from the server's OpenAPI document (fetched once). */
export async function storageFields(role: Role, type: string): Promise<FieldSpec[]> {
  return fieldsFromDocument(await openApi(), role, type);
}

/** The guide's names of the storage types (the server's titles are Label Studio's API titles). */
const TYPE_NAMES: Record<string, string> = {
  s3: 'Amazon S3',
  s3s: 'Amazon S3 (IAM role access)',
  gcs: 'Google Cloud Storage',
  azure: 'Microsoft Azure',
  azure_spi: 'Microsoft Azure (Service Principal)',
  redis: 'Redis Database',
  localfiles: 'Local Files',
};

const typesCache = new Map<Role, Promise<StorageType[]>>();
/** The storage types of a role, in the server's order, with their titles. */
export function storageTypes(role: Role): Promise<StorageType[]> {
  let p = typesCache.get(role);
  if (!p) {
    p = api<StorageType[]>('GET', role === 'export' ? '/api/storages/export/types' : '/api/storages/types').then((list) =>
      list.map((t) => ({ name: t.name, title: TYPE_NAMES[t.name] ?? t.title })),
    );
    p.catch(() => typesCache.delete(role));
    typesCache.set(role, p);
  }
  return p;
}

/** The API path of a role's storage collection of a type. */
export function storageBase(role: Role, type: string): string {
  return role === 'export' ? `/api/storages/export/${type}` : `/api/storages/${type}`;
}
