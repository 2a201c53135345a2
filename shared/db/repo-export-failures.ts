/**
 * Failed annotation exports, remembered in the table as `{pk: "XFAIL", sk: "ANN#<id>"}` with the
 * project and the operation: written by the stream handler whenever an annotation is not delivered
 * to every target (reported for retry, or recorded instead because a target is misconfigured),
 * and by the replay function for every annotation of a dead-lettered batch (an invocation that
 * crashed or timed out recorded nothing). The SQS on-failure message of the AWS mapping carries
 * only shard and sequence metadata, and stream records expire after 24 h; these items are what
 * the scheduled replay re-exports from the table. Items of annotations that succeeded on a later
 * retry are harmless (re-exporting is version-guarded) and expire after 15 days.
 */
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalFailure, queryPages, type Db } from './repo-common';
import { TOMBSTONE_TTL_SECONDS } from './repo-export-links';

export const FAILURE_PK = 'XFAIL';

export interface ExportFailure {
  annotationId: number;
  projectId: number;
  op: 'upsert' | 'remove';
  version: number;
  failed_at: string;
}

/** Records (overwrites) the failure of one annotation's export. */
export async function recordExportFailure(db: Db, f: Omit<ExportFailure, 'failed_at'>): Promise<void> {
  const now = new Date();
  await db.doc.send(
    new PutCommand({
      TableName: db.table,
      Item: {
        pk: FAILURE_PK,
        sk: `ANN#${f.annotationId}`,
        kind: 'export_failure',
        ...f,
        failed_at: now.toISOString(),
        ttl: Math.floor(now.getTime() / 1000) + TOMBSTONE_TTL_SECONDS,
      },
    }),
  );
}

/** Pages of recorded failures (one partition, paginated). */
export async function* listExportFailures(db: Db, pageSize = 100): AsyncGenerator<ExportFailure[]> {
  const input = { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': FAILURE_PK }, ConsistentRead: true };
  for await (const { items } of queryPages(db, input, pageSize)) if (items.length) yield items as unknown as ExportFailure[];
}

/** Forgets a failure once its annotation was exported again (only if not re-recorded meanwhile). */
export async function clearExportFailure(db: Db, f: Pick<ExportFailure, 'annotationId' | 'failed_at'>): Promise<void> {
  try {
    await db.doc.send(
      new DeleteCommand({
        TableName: db.table,
        Key: { pk: FAILURE_PK, sk: `ANN#${f.annotationId}` },
        ConditionExpression: 'failed_at = :at',
        ExpressionAttributeValues: { ':at': f.failed_at },
      }),
    );
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
  }
}
