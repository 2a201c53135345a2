/**
 * Target (export) storages of a project and the bookkeeping of their health: a target whose
 * writes fail gets a readable, secret-free reason on its storage item, cleared once it recovers.
 */
import type { StorageItem } from '../db/items';
import type { Db } from '../db/repo-common';
import { writeStorageSyncState } from '../db/repo-storage-sync-state';
import { StorageError } from '../errors';
import type { StorageConfig } from '../storage/types';

/** One target storage, ready to write to. */
export interface ExportTarget {
  id: number;
  projectId: number;
  config: StorageConfig;
  /** `can_delete_objects` (null/absent → false, as in Label Studio). */
  canDeleteObjects: boolean;
  /** The stored item, for status bookkeeping. */
  item: StorageItem;
}

/** Turns a stored storage item into its config with secrets decrypted (`loadStorageConfig` of shared/api/storages.ts). */
export type StorageConfigLoader = (item: StorageItem) => Promise<StorageConfig>;

/** Builds an ExportTarget from a stored item. */
export async function toExportTarget(item: StorageItem, loadConfig: StorageConfigLoader): Promise<ExportTarget> {
  return {
    id: item.id,
    projectId: item.projectId,
    config: await loadConfig(item),
    canDeleteObjects: item.fields?.can_delete_objects === true,
    item,
  };
}

/** A readable reason for a failed write; only StorageError messages (already secret-free) are shown. */
export function exportFailureReason(e: unknown): { code: string; reason: string } {
  if (e instanceof StorageError) return { code: e.code, reason: e.message };
  return { code: 'failed', reason: 'unexpected error while writing the annotation (see the function logs)' };
}

/**
 * Records a failed write on the storage item: `meta.export_error = {code, reason, time}` and
 * `traceback`; a configuration failure (credentials, missing bucket, invalid) also turns the
 * status to `failed` unless a sync is queued or running (that run owns the status).
 */
export async function reportTargetFailure(db: Db, target: ExportTarget, e: unknown): Promise<void> {
  const { code, reason } = exportFailureReason(e);
  const fatal = ['access_denied', 'not_found', 'invalid', 'forbidden_endpoint'].includes(code);
  const change = {
    set: { traceback: `Export of annotations to storage ${target.id} failed: ${reason}` },
    metaEntries: { export_error: { code, reason, time: new Date().toISOString() } },
    touch: false,
  };
  // The status is a sync's while one is queued or running; the error is recorded either way.
  if (fatal && (await writeStorageSyncState(db, target.id, { ...change, set: { ...change.set, status: 'failed' } }, { live: false, statusNotIn: ['queued', 'in_progress'] }))) return;
  await writeStorageSyncState(db, target.id, change, { live: false });
}

/**
 * Clears a recorded failure after a successful write (only when one is recorded, so healthy
 * targets cost no extra write). A status the failure set to `failed` goes back to `completed`.
 */
export async function clearTargetFailure(db: Db, target: ExportTarget): Promise<void> {
  if (!target.item.meta?.export_error) return;
  const cleared = await writeStorageSyncState(db, target.id, { set: { traceback: null }, removeMeta: ['export_error'], touch: false }, { live: false, metaHas: 'export_error' });
  if (cleared && target.item.status === 'failed') {
    await writeStorageSyncState(db, target.id, { set: { status: 'completed' }, touch: false }, { live: false, statusIn: ['failed'] });
  }
  target.item.meta = { ...target.item.meta };
  delete target.item.meta.export_error;
}
