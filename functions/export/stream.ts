/**
 * DynamoDB stream consumer (event source mapping filtered to `kind = annotation`, with
 * ReportBatchItemFailures and bisect on error; the local poller calls it the same way): writes
 * created/updated annotations to every export storage of their project and deletes removed ones.
 * Returns the records to retry; the mapping sends what keeps failing to the SQS DLQ.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { getContext } from '../../shared/context';
import { getLogger } from '../../shared/logging';
import type { ExportDeps } from '../../shared/export/deps';
import { processAnnotationRecords } from '../../shared/export/process-records';
import { exportDepsFromContext } from '../../shared/export/runtime';
import { loadStorageConfig } from '../../shared/api/storages';
import type { StreamRecordLike } from '../../shared/export/stream-record';

let built: { ctx: ReturnType<typeof getContext>; deps: ExportDeps } | undefined;

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const ctx = getContext();
  // Built once per context (per cold start in AWS; again when the local runtime reconfigures).
  if (built?.ctx !== ctx) built = { ctx, deps: exportDepsFromContext(ctx, (item) => loadStorageConfig(item, ctx.secretBox)) };
  const records = (event.Records ?? []) as StreamRecordLike[];
  const r = await processAnnotationRecords(built.deps, records);
  if (r.failures.length || r.outcomes.failed) {
    getLogger('export').warn('export batch with failures', { records: records.length, failures: r.failures.length, outcomes: r.outcomes });
  }
  return { batchItemFailures: r.failures.map((itemIdentifier) => ({ itemIdentifier })) };
};
