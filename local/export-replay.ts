/**
 * The export replay of `npm start`, triggered as in AWS (lib/constructs/export-pipeline.ts):
 * - a batch the stream poller dead-letters is handed to the replay function as the SQS event its
 *   on-failure destination would produce (shard and sequence range only: the function reads the
 *   records back from DynamoDB Local's stream and records their annotations as failures);
 * - its schedule, which re-exports the recorded failures, is run by local/schedules.ts like every
 *   scheduled function of the manifest.
 */
import { randomUUID } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import type { DlqEntry } from './dlq';

/** The body Lambda's SQS on-failure destination receives for a DynamoDB stream batch. */
export function onFailureBody(entry: Pick<DlqEntry, 'condition' | 'attempts' | 'streamArn' | 'shardId' | 'startSequenceNumber' | 'endSequenceNumber' | 'batchSize' | 'failedAt'>): string {
  return JSON.stringify({
    requestContext: { requestId: randomUUID(), functionArn: 'arn:aws:lambda:local:000000000000:function:exportStream', condition: entry.condition, approximateInvokeCount: entry.attempts + 1 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: entry.failedAt,
    DDBStreamBatchInfo: {
      shardId: entry.shardId,
      startSequenceNumber: entry.startSequenceNumber,
      endSequenceNumber: entry.endSequenceNumber,
      batchSize: entry.batchSize,
      streamArn: entry.streamArn,
    },
  });
}

/** The SQS event of one dead-lettered batch. */
export function dlqEvent(entry: DlqEntry, region: string): SQSEvent {
  return {
    Records: [
      {
        messageId: entry.id,
        receiptHandle: entry.id,
        body: onFailureBody(entry),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.parse(entry.failedAt)), SenderId: 'local', ApproximateFirstReceiveTimestamp: String(Date.now()) },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${region}:000000000000:export-dlq`,
        awsRegion: region,
      },
    ],
  };
}
