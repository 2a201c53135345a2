import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';

export interface StorageEventsProps {
  /** The storageEvents function (returns `{batchItemFailures}`). */
  fn: lambda.Function;
  /** Accounts whose default bus may forward S3 events to this account's (context `eventSourceAccounts`). */
  sourceAccounts: string[];
}

/** Receives before a message goes to the dead-letter queue (a storage whose events keep failing). */
export const STORAGE_EVENTS_MAX_RECEIVES = 5;
/**
 * Messages per invocation and how long the mapping gathers them: a burst becomes few, large
 * batches. A chunk's worth (1,000; SQS allows up to 10,000 with a batching window): an event-sync
 * call has about a dozen fixed table round trips, which 100-message batches paid per 100 events.
 * 1,000 EventBridge S3 events are about 1.5 MB, well under Lambda's 6 MB payload.
 */
export const STORAGE_EVENTS_BATCH_SIZE = 1000;
export const STORAGE_EVENTS_BATCH_WINDOW_SECONDS = 5;

/**
 * S3 object notifications → event sync: an EventBridge rule on the account's default bus
 * (`aws.s3`, "Object Created" / "Object Deleted"; the customer turns on EventBridge notifications
 * on the bucket) sends them to an SQS queue consumed in batches by the storageEvents function,
 * which reports partial batch failures; a message received {@link STORAGE_EVENTS_MAX_RECEIVES}
 * times goes to the dead-letter queue. Buckets of other accounts forward their events with a rule
 * of their own to this default bus, which `sourceAccounts` allows (README "Automatic sync: events").
 */
export class StorageEvents extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: StorageEventsProps) {
    super(scope, id);
    // SSE-SQS: EventBridge cannot send to a queue under the AWS managed KMS key (its key policy
    // admits no service principal), and a customer key would need a policy for events.amazonaws.com.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    acknowledge(this.deadLetterQueue, 'AwsSolutions-SQS3', 'This queue is itself the dead-letter destination of the storage events queue.');
    const fnTimeout = props.fn.timeout?.toSeconds() ?? 120;
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      // AWS: at least 6× the function timeout, so a batch being retried by Lambda stays invisible.
      visibilityTimeout: Duration.seconds(6 * fnTimeout),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: STORAGE_EVENTS_MAX_RECEIVES },
      enforceSSL: true,
    });
    this.rule = new events.Rule(this, 'S3ObjectEvents', {
      description: 'S3 object created/deleted notifications (this and allowed accounts) to labelsync event sync',
      eventPattern: { source: ['aws.s3'], detailType: ['Object Created', 'Object Deleted'] },
    });
    this.rule.addTarget(new targets.SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(24) }));
    props.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: STORAGE_EVENTS_BATCH_SIZE,
        maxBatchingWindow: Duration.seconds(STORAGE_EVENTS_BATCH_WINDOW_SECONDS),
        reportBatchItemFailures: true,
        maxConcurrency: 10,
      }),
    );
    const region = Stack.of(this).region;
    const account = Stack.of(this).account;
    props.sourceAccounts.forEach((a, i) => {
      new events.CfnEventBusPolicy(this, `AllowAccount${i}`, {
        eventBusName: 'default',
        statementId: `labelsync-s3-events-${a}`,
        statement: {
          Sid: `labelsync-s3-events-${a}`,
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${a}:root` },
          Action: 'events:PutEvents',
          Resource: `arn:aws:events:${region}:${account}:event-bus/default`,
          Condition: { StringEquals: { 'events:source': 'aws.s3' } },
        },
      });
    });
  }
}
