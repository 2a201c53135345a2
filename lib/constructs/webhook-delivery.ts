import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';

export interface WebhookDeliveryProps {
  /** The webhookDeliver function (returns `{batchItemFailures}`). */
  worker: lambda.Function;
  /** Functions that emit events: they may only send delivery jobs to the queue. */
  emitters: lambda.Function[];
}

/** Receives of one job before SQS moves it to the DLQ (the worker's own retries are separate jobs). */
export const WEBHOOK_QUEUE_MAX_RECEIVES = 5;

/**
 * Webhook delivery jobs: an encrypted SQS queue (delays up to 15 minutes carry the retry backoff)
 * consumed by the worker with partial batch failures, and a DLQ for jobs the worker itself kept
 * failing on (table or queue errors; a receiver's failures end as dead-letter delivery records,
 * not here). Emitters get `sqs:SendMessage` on the queue and its URL as LABELSYNC_WEBHOOK_QUEUE_URL.
 */
export class WebhookDelivery extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS_MANAGED,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    acknowledge(this.deadLetterQueue, 'AwsSolutions-SQS3', 'This queue is itself the dead-letter destination of the webhook delivery queue.');
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS_MANAGED,
      retentionPeriod: Duration.days(4),
      // SQS requires a visibility timeout at least the consuming function's timeout.
      visibilityTimeout: Duration.seconds(Math.max(30, props.worker.timeout?.toSeconds() ?? 30) * 2),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: WEBHOOK_QUEUE_MAX_RECEIVES },
      enforceSSL: true,
    });
    props.worker.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));
    // The worker re-enqueues a job with a delay for its next attempt.
    for (const fn of [props.worker, ...props.emitters]) {
      this.queue.grantSendMessages(fn);
      fn.addEnvironment('LABELSYNC_WEBHOOK_QUEUE_URL', this.queue.queueUrl);
    }
  }
}
