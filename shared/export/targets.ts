/**
 * Target (export) storages of a project and the bookkeeping of their health: a target whose
 * writes fail gets a readable, secret-free reason on its storage item, cleared once it recovers.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../db/keys';
import type { StorageItem } from '../db/items';
import type { Db } from '../db/repo-common';
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

/** Turns a stored storage item into its config with secrets decrypted (D's `loadStorageConfig`). */
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
  const text = `Export of annotations to storage ${target.id} failed: ${reason}`;
  const base = {
    TableName: db.table,
    Key: keys.storage(target.id),
    ExpressionAttributeNames: { '#meta': 'meta', '#err': 'export_error' } as Record<string, string>,
    ExpressionAttributeValues: {
      ':err': { code, reason, time: new Date().toISOString() },
      ':tb': text,
    } as Record<string, unknown>,
  };
  try {
    if (fatal) {
      await db.doc.send(
        new UpdateCommand({
          ...base,
          UpdateExpression: 'SET #meta.#err = :err, traceback = :tb, #status = :failed',
          ConditionExpression: 'attribute_exists(pk) AND NOT #status IN (:q, :ip)',
          ExpressionAttributeNames: { ...base.ExpressionAttributeNames, '#status': 'status' },
          ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ':failed': 'failed', ':q': 'queued', ':ip': 'in_progress' },
        }),
      );
      return;
    }
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
  }
  try {
    await db.doc.send(
      new UpdateCommand({ ...base, UpdateExpression: 'SET #meta.#err = :err, traceback = :tb', ConditionExpression: 'attribute_exists(pk)' }),
    );
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
  }
}

/**
 * Clears a recorded failure after a successful write (only when one is recorded, so healthy
 * targets cost no extra write). A status the failure set to `failed` goes back to `completed`.
 */
export async function clearTargetFailure(db: Db, target: ExportTarget): Promise<void> {
  if (!target.item.meta?.export_error) return;
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.storage(target.id),
        UpdateExpression: 'REMOVE #meta.#err SET traceback = :null',
        ConditionExpression: 'attribute_exists(#meta.#err)',
        ExpressionAttributeNames: { '#meta': 'meta', '#err': 'export_error' },
        ExpressionAttributeValues: { ':null': null },
      }),
    );
    if (target.item.status === 'failed') {
      await db.doc.send(
        new UpdateCommand({
          TableName: db.table,
          Key: keys.storage(target.id),
          UpdateExpression: 'SET #status = :completed',
          ConditionExpression: '#status = :failed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':completed': 'completed', ':failed': 'failed' },
        }),
      ).catch((err) => {
        if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
      });
    }
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
  }
  target.item.meta = { ...target.item.meta };
  delete target.item.meta.export_error;
}
