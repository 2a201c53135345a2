import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';

export interface SyncFailureRuleProps {
  stateMachine: sfn.IStateMachine;
  /** The syncExecutionFailed function (shared/sync/execution-failed.ts). */
  fn: lambda.IFunction;
}

/** Execution statuses after which nothing in the state machine can finalize the job any more. */
export const FAILED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'];

/**
 * EventBridge rule on the sync state machine's executions ending FAILED, TIMED_OUT or ABORTED →
 * syncExecutionFailed, which marks the storage failed (conditionally: only a job still
 * queued/in_progress). Without it such a storage stays `in_progress` until the stale-job rule.
 * Step Functions emits these events to the default bus on its own; EventBridge retries a failed
 * invocation for up to 2 h, then the event lands in the dead-letter queue.
 */
export class SyncFailureRule extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: SyncFailureRuleProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      retentionPeriod: Duration.days(14),
      // SSE-SQS: EventBridge cannot send to a queue encrypted with the AWS managed KMS key.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter destination of the execution-failed rule; its events are inspected (or the job re-synced), not redriven further.',
    );
    this.rule = new events.Rule(this, 'Rule', {
      description: 'labelsync: mark a storage failed when its sync execution fails, times out or is aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: FAILED_EXECUTION_STATUSES, stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
      targets: [
        new targets.LambdaFunction(props.fn, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });
  }
}
