/**
 * The registration of every storage type: adding a type is one definition file plus one line
 * here (and its name in StorageType). Everything else derives from `BACKENDS`.
 */
import type { StorageType } from '../types';
import { azureBackend } from './azure';
import { azureSpiBackend } from './azure-spi';
import type { BackendDefinition } from './definition';
import { allSecretFieldNames } from './derive';
import { gcsBackend } from './gcs';
import { localFilesBackend } from './localfiles';
import { redisBackend } from './redis';
import { s3Backend } from './s3';
import { s3sBackend } from './s3s';

/** Every definition, keyed by type. */
export const BACKENDS: Readonly<Record<StorageType, BackendDefinition>> = {
  s3: s3Backend,
  s3s: s3sBackend,
  gcs: gcsBackend,
  azure: azureBackend,
  azure_spi: azureSpiBackend,
  redis: redisBackend,
  localfiles: localFilesBackend,
};

/** Every registered definition, in StorageType order. */
export const BACKEND_LIST: readonly BackendDefinition[] = Object.values(BACKENDS);

/** The definition of `type` in `defs` (default the registered ones), or undefined for an unknown type. */
export function backend(type: string, defs: Readonly<Record<string, BackendDefinition>> = BACKENDS): BackendDefinition | undefined {
  return Object.hasOwn(defs, type) ? defs[type] : undefined;
}

/** Every secret field name of any registered type (log redaction, traceback scrubbing). */
export const STORAGE_SECRET_FIELDS: readonly string[] = allSecretFieldNames(BACKEND_LIST);
