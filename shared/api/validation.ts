/**
 * Request validation with zod schemas. The same schemas build the OpenAPI document
 * (`openapi.ts`), so the documented and the enforced shapes cannot drift. Zod issues become a
 * ValidationError in Label Studio's `{field: [messages]}` shape.
 */
import { z } from 'zod';
import { ValidationError, type FieldErrors } from '../errors';
import { storableJsonProblem } from '../db/storable-json';

/** Every schema registered here appears under `components.schemas` with its id. */
export const apiRegistry = z.registry<{ id: string; description?: string }>();

/** Converts zod issues to per-field messages (top-level field name, else `non_field_errors`). */
export function issuesToFields(issues: readonly z.core.$ZodIssue[]): FieldErrors {
  const out: FieldErrors = {};
  for (const i of issues) {
    const field = i.path.length ? i.path.map(String).join('.') : 'non_field_errors';
    // Unrecognized-keys issues name the keys themselves.
    const keysList = (i as { keys?: string[] }).keys;
    if (i.code === 'unrecognized_keys' && keysList) {
      for (const k of keysList) (out[k] ??= []).push('Unknown field.');
      continue;
    }
    (out[field] ??= []).push(i.message);
  }
  return out;
}

/**
 * Parses `data` with `schema`.
 * @throws ValidationError listing every invalid field
 */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const r = schema.safeParse(data);
  if (!r.success) throw new ValidationError(issuesToFields(r.error.issues));
  return r.data;
}

/** A positive integer path or query id. @throws ValidationError (field `name`) */
export function parseId(value: string | undefined, name = 'id'): number {
  const n = Number(value);
  if (value === undefined || !/^\d{1,15}$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw ValidationError.field(name, 'A valid integer is required.');
  }
  return n;
}

/** Like `parseId` for path segments: a non-integer id is simply not found. */
export function pathId(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,15}$/.test(value) && Number(value) > 0 ? Number(value) : undefined;
}

/** The storability rule of every stored JSON value (the import route checks raw elements with it). */
export { storableJsonProblem };

/**
 * Checks every field of a parsed body with `storableJsonProblem`.
 * @throws ValidationError naming each unstorable field
 */
export function assertStorableFields(body: Record<string, unknown>): void {
  const errors: FieldErrors = {};
  for (const [k, v] of Object.entries(body)) {
    const p = storableJsonProblem(v);
    if (p) errors[k] = [p];
  }
  if (Object.keys(errors).length) throw new ValidationError(errors);
}

/**
 * `assertStorableFields` on the named fields of a raw (unparsed) body: schema parsing rebuilds
 * objects with `out[key] = …`, which silently drops a `__proto__` key, so the check must see the
 * body as JSON.parse produced it.
 * @throws ValidationError naming each unstorable field
 */
export function assertStorableRawFields(body: unknown, fields: readonly string[]): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const raw = body as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const f of fields) if (Object.prototype.hasOwnProperty.call(raw, f)) picked[f] = raw[f];
  assertStorableFields(picked);
}
