/**
 * DynamoDB stream consumer (event source mapping filtered to `kind = annotation`, with
 * ReportBatchItemFailures and bisect on error; the local poller calls it the same way): writes
 * created/updated annotations to every export storage of their project and deletes removed ones.
 * Returns the records to retry; the mapping sends what keeps failing to the SQS DLQ.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { recordExportBatch } from '../../shared/export/batch-metrics';
import { lambdaHandler } from '../../shared/lambda-handler';
import { getLogger } from '../../shared/logging';
import { processAnnotationRecords } from '../../shared/export/process-records';
import type { StreamRecordLike } from '../../shared/export/stream-record';
import { processApp } from '../../shared/process-app';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

export const handler = lambdaHandler('export', processApp, async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const records = (event.Records ?? []) as StreamRecordLike[];
  const r = await processAnnotationRecords(processApp().exportDeps(), records);
  recordExportBatch(records, r.failures);
  if (r.failures.length || r.outcomes.failed) {
    getLogger('export').warn('export batch with failures', { records: records.length, failures: r.failures.length, recorded: r.recorded.length, outcomes: r.outcomes });
  }
  return { batchItemFailures: r.failures.map((itemIdentifier) => ({ itemIdentifier })) };
});
