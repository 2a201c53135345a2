/**
 * Process-independent configuration items of the table. Today one: the media-token signing key
 * (`CONFIG#signing-key`), stored encrypted by the caller's secret box.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalFailure, type Db } from './repo-common';

/** Table key of the stored signing key (AWS mode). */
export const SIGNING_KEY_ITEM = { pk: 'CONFIG#signing-key', sk: 'CONFIG' } as const;

/** The stored (encrypted) signing key blob, read consistently; undefined when none exists yet. */
export async function getSigningKeyBlob(db: Db): Promise<string | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: SIGNING_KEY_ITEM, ConsistentRead: true }));
  return res.Item ? (res.Item.blob as string) : undefined;
}

/**
 * Stores the (encrypted) signing key blob unless one exists. Returns false when another writer
 * created it first (the caller then reads the winner's).
 */
export async function putSigningKeyBlobIfAbsent(db: Db, blob: string): Promise<boolean> {
  try {
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: { ...SIGNING_KEY_ITEM, kind: 'config', blob, created_at: new Date().toISOString() },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
    return false;
  }
}
