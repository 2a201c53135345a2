/**
 * Tables derived from a set of definitions: field lists per type and role, defaults, secret
 * fields, titles and the URI scheme table. Pure functions of the definitions, so a test can
 * derive them from a definition set of its own.
 */
import type { StorageRole } from '../types';
import { EXPORT_TAIL, IDENTITY_FIELDS, IMPORT_TAIL } from './common-fields';
import type { BackendDefinition, FieldSpec } from './definition';

/** A type's fields of a role, in response order, with their specs. */
export function fieldsOf(def: BackendDefinition, role: StorageRole): [string, FieldSpec][] {
  const own = Object.entries(def.fields).filter(([, f]) => (f.role ?? 'both') === 'both' || f.role === role);
  return [...Object.entries(IDENTITY_FIELDS), ...own, ...Object.entries(role === 'import' ? IMPORT_TAIL : EXPORT_TAIL)];
}

/** Label Studio's defaults of a new storage of a type and role (fields without one are omitted). */
export function defaultsOf(def: BackendDefinition, role: StorageRole): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of fieldsOf(def, role)) {
    const d = f.defaultByRole ? f.defaultByRole[role] : f.default;
    if (d !== undefined) out[name] = d;
  }
  return out;
}

/** Write-only fields of a type, in field order. */
export function secretFieldsOf(def: BackendDefinition): string[] {
  return Object.entries(def.fields).filter(([, f]) => f.secret).map(([name]) => name);
}

/** Fields of a type that define where its connection goes (the stored secrets are bound to them). */
export function connectionFieldsOf(def: BackendDefinition): string[] {
  return Object.entries(def.fields).filter(([, f]) => f.connection).map(([name]) => name);
}

/** Every secret field name of any type. */
export function allSecretFieldNames(defs: readonly BackendDefinition[]): string[] {
  return [...new Set(defs.flatMap(secretFieldsOf))];
}

/** Types by title order. */
export function byTitleOrder(defs: readonly BackendDefinition[]): BackendDefinition[] {
  return [...defs].sort((a, b) => a.titleOrder - b.titleOrder);
}

/** Scheme → types answering it, schemes longest first (a scanner never stops at a shorter one). */
export function schemeTable(defs: readonly BackendDefinition[]): Map<string, BackendDefinition['type'][]> {
  const table = new Map<string, BackendDefinition['type'][]>();
  for (const d of defs) for (const s of d.resolves?.schemes ?? []) table.set(s, [...(table.get(s) ?? []), d.type]);
  return new Map([...table].sort(([a], [b]) => b.length - a.length));
}
