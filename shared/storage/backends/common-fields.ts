/**
 * Fields shared by several storage types: every storage's identity fields, the role fields every
 * import or export storage has, and the cloud listing and presign fields. Definitions spread the
 * groups they use into their own field table; the role tails are appended by the derivation.
 */
import { z } from 'zod';
import { MAX_SHORT_FIELD_CHARS, MAX_TEXT_FIELD_CHARS } from '../../http/limits';
import { normalizePrefix } from '../key-filter';
import type { StorageConfig } from '../types';
import type { FieldSpec, FieldTable } from './definition';

// Caps keep a storage item under DynamoDB's 400 KB (shared/http/limits.ts).
/** Nullable string up to MAX_SHORT_FIELD_CHARS: most config fields. */
export const shortString = z.string().max(MAX_SHORT_FIELD_CHARS, `Ensure this field has no more than ${MAX_SHORT_FIELD_CHARS} characters.`).nullable();
/** Nullable boolean. */
export const nullableBool = z.boolean().nullable();

/** A plain short-string field. */
export const shortField = (extra: Omit<FieldSpec, 'schema'> = {}): FieldSpec => ({ schema: shortString, ...extra });

/** Fields of every storage, first in every response. */
export const IDENTITY_FIELDS: FieldTable = {
  title: { schema: z.string().max(256, 'Ensure this field has no more than 256 characters.').nullable() },
  description: { schema: z.string().max(MAX_TEXT_FIELD_CHARS, `Ensure this field has no more than ${MAX_TEXT_FIELD_CHARS} characters.`).nullable() },
  synchronizable: { schema: z.boolean(), default: true },
};

/** Fields every import storage ends with. */
export const IMPORT_TAIL: FieldTable = {
  sync_deletions: { schema: z.enum(['keep', 'remove', 'flag']), description: 'What import sync does for tasks whose source object is gone.', default: 'keep' },
  sync_deletions_remove_annotated: {
    schema: z.boolean(),
    description: 'With sync_deletions "remove", also delete tasks that have annotations or predictions (and their annotations). Off: such tasks are kept and flagged object_exists=false.',
    default: false,
  },
  event_sync: {
    schema: z.boolean(),
    description: 'Import new and removed objects as the storage notifies them (README "Automatic sync: events"), besides full syncs. Types without notifications refuse true.',
    default: false,
  },
};

/** Fields every export storage ends with. */
export const EXPORT_TAIL: FieldTable = {
  can_delete_objects: { schema: nullableBool },
  export_key_format: { schema: z.enum(['id', 'id_json']), description: 'Object key of exported annotations: "<id>" (LS) or "<id>.json".', default: 'id' },
};

/** `regex_filter` and `use_blob_urls`: every type selects keys and chooses tasks-per-object. */
export const KEY_SELECTION_FIELDS: FieldTable = {
  regex_filter: { schema: shortString, description: 'Regular expression matched against the full object key (re.match: anchored at the start).' },
  use_blob_urls: { schema: nullableBool, description: 'true: one task per object pointing at its URI; false: objects are JSON task files.', default: false },
};

/** Listing fields of the cloud object stores. */
export const CLOUD_FIELDS: FieldTable = {
  prefix: shortField(),
  ...KEY_SELECTION_FIELDS,
};

/** `recursive_scan` (import only). */
export const RECURSIVE_SCAN: FieldTable = { recursive_scan: { schema: nullableBool, role: 'import', default: false } };

/** Presign and scan fields of cloud import storages. */
export const CLOUD_IMPORT_FIELDS: FieldTable = {
  presign: { schema: nullableBool, role: 'import', default: true },
  presign_ttl: {
    schema: z.number().int('A valid integer is required.').min(1).max(65535).nullable(),
    description: 'Presigned URL lifetime in MINUTES (Label Studio semantics).',
    role: 'import',
    default: 1,
  },
  ...RECURSIVE_SCAN,
  inline_presign: {
    schema: nullableBool,
    description: "Put presigned URLs straight into task data (Label Studio's older behaviour) instead of resolve URLs; saves the redirect hop for clients that fetch promptly.",
    role: 'import',
    default: false,
  },
};

/** Cloud stores write exported annotations under their normalised prefix. */
export const prefixedExportKeys = (config: StorageConfig): string => normalizePrefix(config.prefix);
