import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { ITEM_KINDS } from '../../shared/db/schema';
import { EXPORT_DLQ_BATCH_SIZE, EXPORT_STREAM_SETTINGS as S } from '../../shared/export/stream-settings';

export interface ExportPipelineProps {
  /** The exportStream function (returns `{batchItemFailures}`). */
  fn: lambda.Function;
  /** The exportReplay function: consumes the DLQ and runs the scheduled replay. */
  replayFn: lambda.Function;
  table: dynamodb.ITable;
}

/**
 * Annotation changes → target storages. The export function consumes the table's stream, filtered
 * server-side to annotation items (new image for puts/updates, old image for deletes, which have
 * only the old image). Partial batch failures are reported per record, failing batches are bisected,
 * retries are bounded (shared/export/stream-settings.ts), and what still fails lands in an
 * encrypted SQS dead-letter queue. The replay function consumes that queue (the message holds only
 * the shard and sequence range: it reads the records back from the stream and records their
 * annotations as failures); its schedule (re-exporting every recorded failure) comes from the
 * manifest's `everyMinutes`, like every scheduled function (lib/constructs/schedules.ts).
 */
export class ExportPipeline extends Construct {
  readonly deadLetterQueue: sqs.Queue;
  readonly eventSource: DynamoEventSource;

  constructor(scope: Construct, id: string, props: ExportPipelineProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // SSE with the AWS managed key (alias/aws/sqs): the event source mapping sends with the
      // function's role, and that key's policy already admits account principals via SQS.
      encryption: sqs.QueueEncryption.KMS_MANAGED,
      retentionPeriod: Duration.days(14),
      // SQS requires a visibility timeout at least the consuming function's timeout.
      visibilityTimeout: Duration.seconds(Math.max(30, props.replayFn.timeout?.toSeconds() ?? 30) * 2),
      enforceSSL: true,
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter destination of the export stream mapping; the replay function turns its messages into recorded failures, not redriven further.',
    );

    const annotation = lambda.FilterRule.isEqual(ITEM_KINDS.annotation);
    this.eventSource = new DynamoEventSource(props.table, {
      // Records are never lost when the mapping is recreated; export writes are idempotent by version.
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: S.batchSize,
      maxBatchingWindow: Duration.seconds(S.batchingWindowSeconds),
      parallelizationFactor: S.parallelizationFactor,
      reportBatchItemFailures: true,
      bisectBatchOnError: S.bisectOnError,
      retryAttempts: S.retryAttempts,
      maxRecordAge: Duration.seconds(S.maxRecordAgeSeconds),
      onFailure: new SqsDlq(this.deadLetterQueue),
      filters: [
        lambda.FilterCriteria.filter({ dynamodb: { NewImage: { kind: { S: annotation } } } }),
        lambda.FilterCriteria.filter({ dynamodb: { OldImage: { kind: { S: annotation } } } }),
      ],
    });
    props.fn.addEventSource(this.eventSource);

    // The stream's records live 24 h: the DLQ is consumed at once, while they can still be read back.
    props.replayFn.addEventSource(new SqsEventSource(this.deadLetterQueue, { batchSize: EXPORT_DLQ_BATCH_SIZE, reportBatchItemFailures: true }));
    // The scheduled run measures the queue's depth (ExportDlqDepth metric); consuming grants GetQueueAttributes.
    props.replayFn.addEnvironment('LABELSYNC_EXPORT_DLQ_URL', this.deadLetterQueue.queueUrl);
  }
}
