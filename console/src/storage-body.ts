/** The request body of the Add / Edit storage form (pure, unit-tested). */
import type { FieldSpec } from './storage-schema';

/** Form values by field name: text as typed, checkboxes as booleans. */
export type Values = Record<string, string | boolean>;

/** The request body for the form's values: empty text is null on edit and left out on create. */
export function buildBody(fields: FieldSpec[], values: Values, replaced: Set<string>, editing: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of fields) {
    if (f.widget === 'readonly') continue;
    const v = values[f.name];
    if (f.secret) {
      // Omitted keeps the stored secret; a replaced one is sent as typed ("" clears it).
      if (editing ? replaced.has(f.name) : v !== '') body[f.name] = v;
      continue;
    }
    if (f.widget === 'checkbox') {
      body[f.name] = v === true;
      continue;
    }
    const text = String(v ?? '');
    if (text.trim() === '') {
      if (editing) body[f.name] = null;
      continue;
    }
    // A number field with something else in it goes as typed: the server names the field.
    body[f.name] = f.widget === 'number' && /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
  }
  return body;
}
