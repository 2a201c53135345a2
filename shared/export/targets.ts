/**
 * Target (export) storages of a project and the bookkeeping of their health: a target whose
 * writes fail is `failed`, with a readable, secret-free reason and the time it began failing on
 * its storage item, back to `completed` (reason cleared) once a write succeeds again.
 */
import type { StorageItem } from '../db/items';
import type { Db } from '../db/repo-common';
import { writeStorageSyncState } from '../db/repo-storage-sync-state';
import { StorageError } from '../errors';
import type { StorageConfig } from '../storage/types';
import { exportFailed } from '../webhooks/events';
import type { EventSink } from '../webhooks/types';

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
 * Errors that retrying cannot fix until someone changes the storage or its bucket: credentials
 * refused, bucket/container missing, an endpoint the SSRF guard refuses, a configuration the
 * backend cannot use. The stream records them as failures instead of retrying the batch (5 retries
 * with bisection would delay every other tenant on the shard). Timeouts, 5xx and throttles
 * (`unreachable`, `failed`, anything not a StorageError) stay retryable.
 */
const CONFIGURATION_CODES: ReadonlySet<string> = new Set(['access_denied', 'not_found', 'forbidden_endpoint', 'invalid', 'unsupported']);

/** True when a target failed for a reason only a configuration change fixes (see CONFIGURATION_CODES). */
export function isConfigurationFailure(e: unknown): boolean {
  return e instanceof StorageError && CONFIGURATION_CODES.has(e.code);
}

/** Meta entries of a failing target: the last error, and when the target began failing. */
export const EXPORT_FAILURE_META = ['export_error', 'export_failing_since'] as const;

/**
 * Records a failed write on the storage item: `meta.export_error = {code, reason, time}` (the
 * last one), `meta.export_failing_since` (kept from the first failure until a write succeeds)
 * and `traceback`, and turns the status to `failed` — whatever the cause: a down endpoint fails
 * every write as surely as wrong credentials — unless a sync is queued or running (that run owns
 * the status; its final step reads the failure).
 */
export async function reportTargetFailure(db: Db, target: ExportTarget, e: unknown, events?: EventSink): Promise<void> {
  const { code, reason } = exportFailureReason(e);
  const time = new Date().toISOString();
  // EXPORT_FAILED once per failing spell: when the target starts failing, not on every write.
  if (events && !isTargetFailing(target.item)) await events.emit(exportFailed(target.item, { code, reason }, time));
  const change = {
    set: { traceback: `Export of annotations to storage ${target.id} failed: ${reason}` },
    metaEntries: { export_error: { code, reason, time } },
    metaDefaults: { export_failing_since: time },
    touch: false,
  };
  if (await writeStorageSyncState(db, target.id, { ...change, set: { ...change.set, status: 'failed' } }, { live: false, statusNotIn: ['queued', 'in_progress'] })) return;
  await writeStorageSyncState(db, target.id, change, { live: false });
}

/** True while the storage's exports fail (a failure recorded and no write succeeded since). */
export function isTargetFailing(storage: Pick<StorageItem, 'meta'>): boolean {
  return storage.meta?.export_failing_since !== undefined;
}

/**
 * Clears a recorded failure after a successful write (only when one is recorded, so healthy
 * targets cost no extra write). A status the failure set to `failed` goes back to `completed`.
 */
export async function clearTargetFailure(db: Db, target: ExportTarget): Promise<void> {
  const meta = target.item.meta;
  if (!meta?.export_error && !isTargetFailing(target.item)) return;
  const cleared = await writeStorageSyncState(db, target.id, { set: { traceback: null }, removeMeta: [...EXPORT_FAILURE_META], touch: false }, { live: false, metaHas: meta.export_error ? 'export_error' : 'export_failing_since' });
  if (cleared?.status === 'failed') {
    await writeStorageSyncState(db, target.id, { set: { status: 'completed' }, touch: false }, { live: false, statusIn: ['failed'] });
  }
  target.item.meta = { ...meta };
  for (const k of EXPORT_FAILURE_META) delete target.item.meta[k];
}
