import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { METRIC, METRICS_NAMESPACE, METRICS_SERVICE } from '../../shared/metric-names';

export interface MonitoringProps {
  /** Every function of the service, by name (one Errors and one Throttles alarm each). */
  functions: Record<string, lambda.IFunction>;
  stateMachine: sfn.IStateMachine;
  table: dynamodb.ITable;
  /** Dead-letter queues by name: anything in one is data that was not delivered. */
  deadLetterQueues: Record<string, sqs.IQueue>;
  /** Work queues by name: a message waiting longer than {@link QUEUE_AGE_ALARM_SECONDS} is a backlog. */
  backlogQueues?: Record<string, sqs.IQueue>;
  /** The function consuming the table's stream (its IteratorAge is the export backlog). */
  streamConsumer: lambda.IFunction;
  /** Subscribed to the alarm topic by email when set (context `alarmEmail`). */
  alarmEmail?: string;
  /** The webhook delivery queue: its oldest message's age is the delivery backlog. */
  webhookQueue?: sqs.IQueue;
}

/** Delivery jobs waiting longer than this (beyond the 15-minute retry delays) mean the worker is not keeping up. */
export const WEBHOOK_QUEUE_AGE_ALARM_SECONDS = 30 * 60;

/** Alarm periods: five minutes, one breaching period unless said otherwise. */
const PERIOD = Duration.minutes(5);

/**
 * Stream records older than this are an export backlog: the mapping drops them to the DLQ at 6 h
 * (maxRecordAge) and the stream forgets them at 24 h, so an hour leaves time to act.
 */
export const ITERATOR_AGE_ALARM_MS = 60 * 60 * 1000;

/** Oldest message of a work queue above this age (seconds) is a backlog: events are not being applied. */
export const QUEUE_AGE_ALARM_SECONDS = 15 * 60;
/** Visible messages of a work queue above this, for three periods, is a backlog. */
export const QUEUE_DEPTH_ALARM_MESSAGES = 10_000;

/** Operations the service sends to the table (the ThrottledRequests metric has one per operation). */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.BATCH_GET_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.DELETE_ITEM,
  dynamodb.Operation.BATCH_WRITE_ITEM,
  dynamodb.Operation.TRANSACT_WRITE_ITEMS,
];

/**
 * Alarms on everything that means data is not moving or being lost, sent to one SNS topic, and a
 * dashboard of the same metrics plus the service's own (Powertools EMF). What each alarm means and
 * what to do is in docs/deploy.md ("Alarms").
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'labelsync alarms', enforceSSL: true });
    acknowledge(
      this.topic,
      'AwsSolutions-SNS2',
      'Alarm notifications carry alarm names and metric values only; CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, and a customer key for this alone is not worth its cost.',
    );
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    this.queueAlarms(props.deadLetterQueues);
    this.backlogAlarms(props.backlogQueues ?? {});
    this.streamAlarm(props.streamConsumer);
    this.executionAlarms(props.stateMachine);
    for (const [name, fn] of Object.entries(props.functions)) this.functionAlarms(name, fn);
    this.tableAlarm(props.table);
    if (props.webhookQueue) this.webhookAlarms(props.webhookQueue);
    this.dashboard = this.buildDashboard(props);
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string, evaluationPeriods = 1): cloudwatch.Alarm {
    const a = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No data means nothing happened (no messages, no invocations): not a failure.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    a.addAlarmAction(new actions.SnsAction(this.topic));
    this.alarms.push(a);
    return a;
  }

  private queueAlarms(queues: Record<string, sqs.IQueue>): void {
    for (const [name, q] of Object.entries(queues)) {
      const depth = q.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' });
      this.alarm(`${name}DlqDepth`, depth, 0, `Messages in the ${name} dead-letter queue: records that were not delivered (see docs/deploy.md, Alarms).`);
    }
  }

  private backlogAlarms(queues: Record<string, sqs.IQueue>): void {
    for (const [name, q] of Object.entries(queues)) {
      const age = q.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum' });
      this.alarm(`${name}QueueAge`, age, QUEUE_AGE_ALARM_SECONDS, `The ${name} queue's oldest message waits more than 15 minutes (see docs/deploy.md, Alarms).`);
      const depth = q.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' });
      this.alarm(`${name}QueueDepth`, depth, QUEUE_DEPTH_ALARM_MESSAGES, `More than ${QUEUE_DEPTH_ALARM_MESSAGES} messages wait in the ${name} queue for 15 minutes (see docs/deploy.md, Alarms).`, 3);
    }
  }

  private streamAlarm(fn: lambda.IFunction): void {
    const age = fn.metric('IteratorAge', { period: PERIOD, statistic: 'Maximum' });
    this.alarm('ExportIteratorAge', age, ITERATOR_AGE_ALARM_MS, 'The export stream consumer is more than an hour behind the table (see docs/deploy.md, Alarms).');
  }

  private executionAlarms(sm: sfn.IStateMachine): void {
    const opts = { period: PERIOD, statistic: 'Sum' };
    this.alarm('SyncExecutionsFailed', sm.metricFailed(opts), 0, 'A sync execution failed (see docs/deploy.md, Alarms).');
    this.alarm('SyncExecutionsTimedOut', sm.metricTimedOut(opts), 0, 'A sync execution timed out (see docs/deploy.md, Alarms).');
    this.alarm('SyncExecutionsAborted', sm.metricAborted(opts), 0, 'A sync execution was aborted (see docs/deploy.md, Alarms).');
  }

  private functionAlarms(name: string, fn: lambda.IFunction): void {
    const opts = { period: PERIOD, statistic: 'Sum' };
    this.alarm(`${name}Errors`, fn.metricErrors(opts), 0, `The ${name} function failed invocations (crash, timeout, out of memory; see docs/deploy.md, Alarms).`);
    this.alarm(`${name}Throttles`, fn.metricThrottles(opts), 0, `The ${name} function was throttled (concurrency limit; see docs/deploy.md, Alarms).`);
  }

  private webhookAlarms(queue: sqs.IQueue): void {
    const age = queue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum' });
    this.alarm('WebhookQueueAge', age, WEBHOOK_QUEUE_AGE_ALARM_SECONDS, 'Webhook delivery jobs wait for more than 30 minutes: the delivery worker is failing or throttled (see docs/deploy.md, Alarms).');
    const dead = new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: METRIC.webhookDeadLettered, dimensionsMap: { service: METRICS_SERVICE }, statistic: 'Sum', period: PERIOD });
    this.alarm('WebhookDeadLettered', dead, 0, 'Webhook deliveries exhausted their attempts (GET /api/webhooks/{id}/deliveries?status=failed; see docs/deploy.md, Alarms).');
  }

  private tableAlarm(table: dynamodb.ITable): void {
    const throttled = table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: PERIOD });
    this.alarm('TableThrottles', throttled, 0, 'DynamoDB throttled requests on the table (see docs/deploy.md, Alarms).');
  }

  private buildDashboard(props: MonitoringProps): cloudwatch.Dashboard {
    const own = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: METRICS_SERVICE }, statistic, period: Duration.minutes(1), label });
    const fns = Object.entries(props.functions);
    const sm = props.stateMachine;
    const d = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    d.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Objects synced / min', left: [own(METRIC.objectsSynced, 'Sum', 'objects')], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Sync jobs',
        left: [own(METRIC.syncFailures, 'Sum', 'failed jobs'), sm.metricSucceeded({ label: 'executions succeeded' })],
        right: [sm.metricFailed({ label: 'failed' }), sm.metricTimedOut({ label: 'timed out' }), sm.metricAborted({ label: 'aborted' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Export',
        left: [own(METRIC.exportLatency, 'p50', 'latency p50 (ms)'), own(METRIC.exportLatency, 'p99', 'latency p99 (ms)')],
        right: [own(METRIC.exportFailures, 'Sum', 'undelivered records')],
        width: 8,
      }),
    );
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Export backlog',
        left: [props.streamConsumer.metric('IteratorAge', { statistic: 'Maximum', label: 'stream iterator age (ms)' })],
        right: Object.entries(props.deadLetterQueues).map(([n, q]) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: `${n} DLQ depth` })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'DynamoDB',
        left: [props.table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, label: 'throttled requests' })],
        right: [props.table.metricUserErrors({ label: 'user errors (account, region)' }), props.table.metric('TransactionConflict', { statistic: 'Sum', label: 'transaction conflicts' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'Lambda throttles', left: fns.map(([n, f]) => f.metricThrottles({ label: n })), width: 8 }),
    );
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Webhooks',
        left: [own(METRIC.webhookDelivered, 'Sum', 'delivered'), own(METRIC.webhookFailed, 'Sum', 'failed attempts'), own(METRIC.webhookDeadLettered, 'Sum', 'dead-lettered')],
        right: [own(METRIC.webhookLatency, 'p50', 'latency p50 (ms)'), own(METRIC.webhookLatency, 'p99', 'latency p99 (ms)'), own(METRIC.eventEmitErrors, 'Sum', 'events not recorded')],
        width: 24,
      }),
    );
    d.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Lambda errors', left: fns.map(([n, f]) => f.metricErrors({ label: n })), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Lambda duration p99 (ms)', left: fns.map(([n, f]) => f.metricDuration({ label: n, statistic: 'p99' })), width: 12 }),
    );
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Object events / min',
        left: [
          own(METRIC.eventsReceived, 'Sum', 'received'),
          own(METRIC.eventsApplied, 'Sum', 'tasks changed'),
          own(METRIC.eventsCoalesced, 'Sum', 'coalesced'),
          own(METRIC.eventsDropped, 'Sum', 'dropped'),
        ],
        right: Object.entries(props.backlogQueues ?? {}).map(([n, q]) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: `${n} queue depth` })),
        width: 16,
      }),
      new cloudwatch.GraphWidget({
        title: 'Object event lag (event time → tasks readable, ms)',
        left: [own(METRIC.eventLag, 'p50', 'p50'), own(METRIC.eventLag, 'p99', 'p99'), own(METRIC.eventLag, 'Maximum', 'max')],
        width: 8,
      }),
    );
    return d;
  }
}
