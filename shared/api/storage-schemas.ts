/**
 * Fields of every storage type and role, derived from the backend definitions
 * (shared/storage/backends/): which fields exist, which are secret (write-only), their defaults
 * (Label Studio's) and their zod schemas. Create/patch/validate bodies and the OpenAPI
 * components are all generated from here.
 */
import { z } from 'zod';
import { STORAGE_TYPES, type StorageRole, type StorageType } from '../storage/types';
import { BACKENDS } from '../storage/backends';
import { byTitleOrder, defaultsOf, fieldsOf, secretFieldsOf } from '../storage/backends/derive';
import type { FieldSpec } from '../storage/backends/definition';
import { apiRegistry } from './validation';

/** Name of a storage config field. */
export type StorageFieldName = string;

const described = new WeakMap<FieldSpec, z.ZodType>();
/** The field's schema with its description attached (one instance per field spec). */
function schemaOf(f: FieldSpec): z.ZodType {
  let s = described.get(f);
  if (!s) described.set(f, (s = f.description ? f.schema.describe(f.description) : f.schema));
  return s;
}

/** Write-only fields per type: encrypted at rest, never in any response. */
export const SECRET_FIELDS: Record<StorageType, StorageFieldName[]> = Object.fromEntries(
  STORAGE_TYPES.map((t) => [t, secretFieldsOf(BACKENDS[t])]),
) as Record<StorageType, StorageFieldName[]>;

/** Fields of a type and role, in response order. */
export function storageFields(type: StorageType, role: StorageRole): StorageFieldName[] {
  return fieldsOf(BACKENDS[type], role).map(([name]) => name);
}

/** Label Studio's defaults of a new storage (fields not listed default to null). */
export function storageDefaults(type: StorageType, role: StorageRole): Record<string, unknown> {
  return defaultsOf(BACKENDS[type], role);
}


const cache = new Map<string, z.ZodObject>();

/** Storage types by role that exist in this deployment order (LS's five, then ours). */
export const TYPE_TITLES: { name: StorageType; title: string }[] = byTitleOrder(Object.values(BACKENDS)).map((d) => ({ name: d.type, title: d.title }));

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
  for (const [f, spec] of fieldsOf(BACKENDS[type], role)) {
    let fs: z.ZodType = schemaOf(spec);
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
  for (const [f, spec] of fieldsOf(BACKENDS[type], role)) {
    if (secrets.has(f)) shape[`has_${f}`] = z.boolean().describe(`Whether ${f} is stored (the value itself is write-only).`);
    else shape[f] = schemaOf(spec);
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
