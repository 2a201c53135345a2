/**
 * Request validation with zod schemas. The same schemas build the OpenAPI document
 * (`openapi.ts`), so the documented and the enforced shapes cannot drift. Zod issues become a
 * ValidationError in Label Studio's `{field: [messages]}` shape.
 */
import { z } from 'zod';
import { ValidationError, type FieldErrors } from '../errors';

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

/** DynamoDB's number range (magnitude) and the SDK's exact round-trip limit for JS numbers. */
const MIN_STORABLE_MAGNITUDE = 1e-130;
const MAX_STORABLE_MAGNITUDE = Number.MAX_SAFE_INTEGER;

/**
 * Why a JSON value cannot be stored as a DynamoDB attribute, or undefined when it can: empty
 * object keys (DynamoDB refuses empty attribute names, also nested) and numbers outside
 * ±2^53 or closer to zero than 1e-130 (the SDK refuses to marshal unsafe integers and DynamoDB
 * refuses underflow; neither may surface as a 500). Iterative, so depth is no concern here.
 */
export function storableJsonProblem(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'number') {
      const a = Math.abs(v);
      if (!Number.isFinite(v) || a > MAX_STORABLE_MAGNITUDE || (a !== 0 && a < MIN_STORABLE_MAGNITUDE)) {
        return `Number ${v} cannot be stored: use numbers within ±${MAX_STORABLE_MAGNITUDE} (or a string).`;
      }
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '') return 'Object keys must not be empty.';
        stack.push(x);
      }
    }
  }
  return undefined;
}

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
