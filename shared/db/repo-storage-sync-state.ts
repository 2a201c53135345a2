/**
 * The sync state of a storage item (`status`, `last_sync*`, `traceback`, `meta.*`), written on
 * behalf of a sync job.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from './keys';
import type { StorageItem } from './items';
import { isConditionalFailure, type Db } from './repo-common';

/** Python `str(datetime)` of a UTC instant, as Label Studio shows meta times (`2025-01-10 09:13:00.101000+00:00`). */
export function pyTime(d: Date): string {
  const iso = d.toISOString(); // 2025-01-10T09:13:00.101Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+00:00`;
}

/**
 * Sets sync fields of the storage (`status`, `last_sync*`, `traceback`, individual `meta.<k>`
 * entries) only if `last_sync_job` is still `jobId` (a newer job owns the storage otherwise) and
 * the storage is not cancelled. Returns false when the condition did not hold.
 */
export async function setStorageSyncFields(
  db: Db,
  storageId: number,
  jobId: string,
  fields: Partial<Pick<StorageItem, 'status' | 'last_sync' | 'last_sync_count' | 'traceback'>> & { meta?: Record<string, unknown> },
  opts: { requireStatus?: StorageItem['status'][] } = {},
): Promise<boolean> {
  const names: Record<string, string> = { '#job': 'last_sync_job', '#updated': 'updated_at' };
  const values: Record<string, unknown> = { ':job': jobId, ':updated': new Date().toISOString() };
  const sets = ['#updated = :updated'];
  let i = 0;
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'meta' || v === undefined) continue;
    names[`#f${i}`] = k;
    values[`:f${i}`] = v;
    sets.push(`#f${i} = :f${i}`);
    i++;
  }
  for (const [k, v] of Object.entries(fields.meta ?? {})) {
    if (v === undefined) continue;
    names['#meta'] = 'meta';
    names[`#m${i}`] = k;
    values[`:m${i}`] = v;
    sets.push(`#meta.#m${i} = :m${i}`);
    i++;
  }
  let cond = 'attribute_exists(pk) AND #job = :job AND (attribute_not_exists(cancelled) OR cancelled = :false)';
  values[':false'] = false;
  if (opts.requireStatus?.length) {
    names['#status'] = 'status';
    cond += ` AND #status IN (${opts.requireStatus.map((_s, j) => `:rs${j}`).join(', ')})`;
    opts.requireStatus.forEach((s, j) => (values[`:rs${j}`] = s));
  }
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.storage(storageId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: cond,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (e) {
    if (isConditionalFailure(e)) return false;
    throw e;
  }
}
