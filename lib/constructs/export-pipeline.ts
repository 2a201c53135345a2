import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { ITEM_KINDS } from '../../shared/db/schema';
import { bindExportDlq } from './node-function';

export interface ExportPipelineProps {
  /** The exportStream function (returns `{batchItemFailures}`). */
  fn: lambda.Function;
  table: dynamodb.ITable;
}

/**
 * Annotation changes → target storages. The export function consumes the table's stream, filtered
 * server-side to annotation items (new image for puts/updates, old image for deletes, which have
 * only the old image). Partial batch failures are reported per record, failing batches are bisected,
 * retries are bounded, and what still fails lands in an encrypted SQS dead-letter queue the function
 * can read back for replay.
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
      enforceSSL: true,
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter destination of the export stream mapping; its records are replayed by the export function, not redriven further.',
    );

    const annotation = lambda.FilterRule.isEqual(ITEM_KINDS.annotation);
    this.eventSource = new DynamoEventSource(props.table, {
      // Records are never lost when the mapping is recreated; export writes are idempotent by version.
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(2),
      // Ordering is kept per item key at any factor; more parallel batches per shard for throughput.
      parallelizationFactor: 4,
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: 5,
      // Stream records live 24 h; give up well before that and leave the record to the DLQ.
      maxRecordAge: Duration.hours(6),
      onFailure: new SqsDlq(this.deadLetterQueue),
      filters: [
        lambda.FilterCriteria.filter({ dynamodb: { NewImage: { kind: { S: annotation } } } }),
        lambda.FilterCriteria.filter({ dynamodb: { OldImage: { kind: { S: annotation } } } }),
      ],
    });
    props.fn.addEventSource(this.eventSource);
    bindExportDlq(props.fn, this.deadLetterQueue);
  }
}
