/**
 * SQS consumer of S3 notifications (EventBridge rule on the default bus → queue; batch window,
 * ReportBatchItemFailures, DLQ after bounded receives): one event-sync call per storage that
 * follows a notified bucket. Returns the messages to retry.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaHandler } from '../../shared/lambda-handler';
import { processApp } from '../../shared/process-app';
import { applyS3Batch } from '../../shared/sync/object-events/s3-batch';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

export const handler = lambdaHandler('events', processApp, async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const r = await applyS3Batch(processApp().syncDeps(), (event.Records ?? []).map((m) => ({ messageId: m.messageId, body: m.body })));
  return { batchItemFailures: r.failed.map((itemIdentifier) => ({ itemIdentifier })) };
});
