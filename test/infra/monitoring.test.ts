import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { ITERATOR_AGE_ALARM_MS, QUEUE_AGE_ALARM_SECONDS, QUEUE_DEPTH_ALARM_MESSAGES } from '../../lib/constructs/monitoring';
import { METRIC, METRICS_NAMESPACE } from '../../shared/metric-names';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Monitoring } from '../../lib/constructs/monitoring';
import { build, lambdaId, ofType, synth, type CfnResource, type Synthesized } from './synth';

let s: Synthesized;
let alarms: CfnResource[];
let topicId: string;
beforeAll(() => {
  // One synthesis (seconds) for the whole file, with the optional email subscription on.
  s = synth({ alarmEmail: 'ops@example.com' });
  alarms = ofType(s.resources, 'AWS::CloudWatch::Alarm').map(([, r]) => r);
  const topics = ofType(s.resources, 'AWS::SNS::Topic');
  expect(topics).toHaveLength(1);
  topicId = topics[0][0];
});

/** The construct alone over imported resources, without alarmEmail (a small template, fast). */
function monitoringAlone(): Record<string, CfnResource> {
  const stack = new Stack();
  const fn = lambda.Function.fromFunctionArn(stack, 'Fn', 'arn:aws:lambda:us-east-1:123456789012:function:f');
  new Monitoring(stack, 'Monitoring', {
    functions: { f: fn },
    stateMachine: sfn.StateMachine.fromStateMachineArn(stack, 'Sm', 'arn:aws:states:us-east-1:123456789012:stateMachine:sm'),
    table: dynamodb.Table.fromTableName(stack, 'Table', 'table'),
    deadLetterQueues: { q: sqs.Queue.fromQueueArn(stack, 'Q', 'arn:aws:sqs:us-east-1:123456789012:q') },
    streamConsumer: fn,
  });
  return Template.fromStack(stack).toJSON().Resources;
}

/** Alarms on metric `name` of `namespace` (plain metric alarms, or math alarms using it). */
function alarmsOn(namespace: string, name: string): CfnResource[] {
  return alarms.filter((a) => {
    const p = a.Properties;
    if (p.MetricName === name && p.Namespace === namespace) return true;
    return (p.Metrics ?? []).some((m: any) => m.MetricStat?.Metric?.MetricName === name && m.MetricStat?.Metric?.Namespace === namespace);
  });
}
const dims = (a: CfnResource) => Object.fromEntries((a.Properties.Dimensions ?? []).map((d: any) => [d.Name, d.Value]));

describe('monitoring: alarms', () => {
  it('every alarm notifies the SNS topic and treats missing data as not breaching', () => {
    expect(alarms.length).toBeGreaterThan(0);
    for (const a of alarms) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(a.Properties.TreatMissingData).toBe('notBreaching');
      expect(a.Properties.AlarmDescription).toContain('docs/deploy.md');
    }
  });

  it('fires on any message in each dead-letter queue (export records, undelivered execution-failed events, storage events)', () => {
    const queues = ofType(s.resources, 'AWS::SQS::Queue');
    const dlqIds = queues.filter(([id]) => !/^StorageEventsQueue/.test(id)).map(([id]) => id).sort();
    expect(queues).toHaveLength(4);
    expect(dlqIds).toHaveLength(3);
    const alarms = alarmsOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible').filter((a) => a.Properties.Threshold === 0);
    expect(alarms.map((a) => dims(a).QueueName['Fn::GetAtt'][0]).sort()).toEqual(dlqIds);
    for (const a of alarms) expect(a.Properties).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Statistic: 'Maximum' });
  });

  it('fires when the storage events queue backs up (oldest message age, depth)', () => {
    const [queueId] = ofType(s.resources, 'AWS::SQS::Queue').map(([id]) => id).filter((id) => /StorageEventsQueue/.test(id));
    const [age] = alarmsOn('AWS/SQS', 'ApproximateAgeOfOldestMessage');
    expect(dims(age).QueueName['Fn::GetAtt'][0]).toBe(queueId);
    expect(age.Properties).toMatchObject({ Threshold: QUEUE_AGE_ALARM_SECONDS });
    const depth = alarmsOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible').find((a) => a.Properties.Threshold === QUEUE_DEPTH_ALARM_MESSAGES);
    expect(dims(depth!).QueueName['Fn::GetAtt'][0]).toBe(queueId);
  });

  it("fires when the export stream consumer's iterator age passes an hour", () => {
    const [a] = alarmsOn('AWS/Lambda', 'IteratorAge');
    expect(dims(a)).toEqual({ FunctionName: { Ref: lambdaId(s.resources, 'exportStream') } });
    expect(a.Properties).toMatchObject({ Threshold: ITERATOR_AGE_ALARM_MS, Statistic: 'Maximum' });
  });

  it('fires on failed, timed-out and aborted sync executions', () => {
    const [[smId]] = ofType(s.resources, 'AWS::StepFunctions::StateMachine');
    for (const m of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
      const found = alarmsOn('AWS/States', m);
      expect(found, m).toHaveLength(1);
      expect(dims(found[0])).toEqual({ StateMachineArn: { Ref: smId } });
      expect(found[0].Properties).toMatchObject({ Threshold: 0, Statistic: 'Sum' });
    }
  });

  it('fires on Errors and Throttles of every function', () => {
    for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
      const fn = { Ref: lambdaId(s.resources, name) };
      for (const m of ['Errors', 'Throttles']) {
        const found = alarmsOn('AWS/Lambda', m).filter((a) => JSON.stringify(dims(a).FunctionName) === JSON.stringify(fn));
        expect(found, `${name} ${m}`).toHaveLength(1);
      }
    }
  });

  it('fires on DynamoDB throttled requests of the table, summed over its operations', () => {
    const [[tableId]] = ofType(s.resources, 'AWS::DynamoDB::Table');
    const [a] = alarmsOn('AWS/DynamoDB', 'ThrottledRequests');
    const stats = (a.Properties.Metrics as any[]).filter((m) => m.MetricStat);
    const ops = stats.map((m) => m.MetricStat.Metric.Dimensions.find((d: any) => d.Name === 'Operation').Value);
    expect(ops).toEqual(expect.arrayContaining(['GetItem', 'Query', 'PutItem', 'UpdateItem', 'BatchWriteItem', 'TransactWriteItems']));
    for (const m of stats) expect(m.MetricStat.Metric.Dimensions).toContainEqual({ Name: 'TableName', Value: { Ref: tableId } });
    expect(a.Properties.Threshold).toBe(0);
  });

  it('subscribes the email of context alarmEmail, none without it, and refuses a malformed one', () => {
    const subs = ofType(s.resources, 'AWS::SNS::Subscription').map(([, r]) => r.Properties);
    expect(subs).toEqual([{ Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: topicId } }]);
    expect(ofType(monitoringAlone(), 'AWS::SNS::Subscription')).toHaveLength(0);
    // Context is read before any construct is built, so this costs no synthesis.
    expect(() => build({ alarmEmail: 'not-an-email' })).toThrow(/alarmEmail/);
  });
});

describe('monitoring: dashboard', () => {
  it('shows the alarmed metrics and the service metrics', () => {
    const boards = ofType(s.resources, 'AWS::CloudWatch::Dashboard');
    expect(boards).toHaveLength(1);
    const body = JSON.stringify(s.stack.resolve(boards[0][1].Properties.DashboardBody));
    for (const m of Object.values(METRIC).filter((n) => n !== METRIC.dlqDepth)) expect(body, m).toContain(`\\"${METRICS_NAMESPACE}\\",\\"${m}\\"`);
    for (const m of ['ApproximateNumberOfMessagesVisible', 'IteratorAge', 'ExecutionsFailed', 'ThrottledRequests', 'Errors', 'Throttles', 'Duration']) {
      expect(body, m).toContain(`\\"${m}\\"`);
    }
  });
});
