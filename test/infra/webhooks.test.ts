/**
 * CDK template of the webhook pieces: the delivery queue (encrypted, with a DLQ) consumed by
 * webhookDeliver with partial batch failures, the event bus, and who may send to them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionName } from '../../functions/manifest';
import { WEBHOOK_QUEUE_AGE_ALARM_SECONDS } from '../../lib/constructs/monitoring';
import { WEBHOOK_QUEUE_MAX_RECEIVES } from '../../lib/constructs/webhook-delivery';
import { METRIC } from '../../shared/metric-names';
import { lambdaId, ofType, synth, type Synthesized } from './synth';

let s: Synthesized;
beforeAll(() => {
  s = synth();
});

const EMITTERS: FunctionName[] = ['projects', 'syncChunk', 'syncFinalize', 'syncExecutionFailed', 'exportStream', 'exportReplay'];

/** Every action a function's role policies allow on resources referring to `logicalId`. */
function actionsOn(fn: FunctionName, logicalId: string): string[] {
  const roleRef = s.resources[lambdaId(s.resources, fn)].Properties.Role['Fn::GetAtt'][0];
  const out: string[] = [];
  for (const [, p] of ofType(s.resources, 'AWS::IAM::Policy')) {
    if (!JSON.stringify(p.Properties.Roles).includes(roleRef)) continue;
    for (const st of p.Properties.PolicyDocument.Statement) if (st.Effect === 'Allow' && JSON.stringify(st.Resource).includes(logicalId)) out.push(...[st.Action].flat());
  }
  return out;
}

describe('webhook delivery infrastructure', () => {
  it('has an encrypted delivery queue with a DLQ, consumed by webhookDeliver with partial batch failures', () => {
    const [[queueId, queue]] = ofType(s.resources, 'AWS::SQS::Queue').filter(([id, r]) => id.startsWith('Webhooks') && r.Properties?.RedrivePolicy);
    expect(queue.Properties).toMatchObject({ KmsMasterKeyId: 'alias/aws/sqs', RedrivePolicy: { maxReceiveCount: WEBHOOK_QUEUE_MAX_RECEIVES } });
    const mappings = ofType(s.resources, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => JSON.stringify(m.Properties.EventSourceArn).includes(queueId));
    expect(mappings).toHaveLength(1);
    expect(mappings[0][1].Properties).toMatchObject({ FunctionName: { Ref: lambdaId(s.resources, 'webhookDeliver') }, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    for (const fn of [...EMITTERS, 'webhookDeliver'] as FunctionName[]) {
      expect(actionsOn(fn, queueId), fn).toContain('sqs:SendMessage');
      expect(s.resources[lambdaId(s.resources, fn)].Properties.Environment.Variables.LABELSYNC_WEBHOOK_QUEUE_URL, fn).toEqual({ Ref: queueId });
    }
    for (const fn of ['meta', 'storages', 'resolve', 'webhooks'] as FunctionName[]) expect(actionsOn(fn, queueId), fn).toEqual([]);
  });

  it('creates the event bus; only emitters may put events, and they get its name', () => {
    const [[busId]] = ofType(s.resources, 'AWS::Events::EventBus');
    for (const fn of EMITTERS) {
      expect(actionsOn(fn, busId), fn).toEqual(['events:PutEvents']);
      expect(s.resources[lambdaId(s.resources, fn)].Properties.Environment.Variables.LABELSYNC_EVENT_BUS_NAME, fn).toEqual({ Ref: busId });
    }
    expect(actionsOn('webhooks', busId)).toEqual([]);
  });

  it('alarms on a delivery backlog and on dead-lettered deliveries', () => {
    const alarms = ofType(s.resources, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    const [[queueId]] = ofType(s.resources, 'AWS::SQS::Queue').filter(([id, r]) => id.startsWith('Webhooks') && r.Properties?.RedrivePolicy);
    // The storage events queue has an age alarm of its own (test/infra/monitoring.test.ts).
    expect(alarms.find((a) => a.MetricName === 'ApproximateAgeOfOldestMessage' && JSON.stringify(a.Dimensions).includes(queueId))).toMatchObject({ Threshold: WEBHOOK_QUEUE_AGE_ALARM_SECONDS, Statistic: 'Maximum' });
    expect(alarms.find((a) => a.MetricName === METRIC.webhookDeadLettered)).toMatchObject({ Threshold: 0, Statistic: 'Sum' });
  });
});
