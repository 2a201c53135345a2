import { beforeAll, describe, expect, it } from 'vitest';
import { getAtt, lambdaId, ofType, synth, type Synthesized } from './synth';
import { FUNCTIONS } from '../../functions/manifest';
import { STORAGE_EVENTS_BATCH_SIZE, STORAGE_EVENTS_BATCH_WINDOW_SECONDS, STORAGE_EVENTS_MAX_RECEIVES } from '../../lib/constructs/storage-events';

let s: Synthesized;
let queueId: string;
let dlqId: string;
beforeAll(() => {
  s = synth({ eventSourceAccounts: '111122223333,444455556666' });
  const queues = ofType(s.resources, 'AWS::SQS::Queue').filter(([id]) => id.startsWith('StorageEvents'));
  queueId = queues.find(([id]) => !id.includes('DeadLetter'))![0];
  dlqId = queues.find(([id]) => id.includes('DeadLetter'))![0];
});

describe('storage events: S3 → EventBridge → SQS → storageEvents', () => {
  it('a default-bus rule sends S3 Object Created / Object Deleted to the queue, with a dead-letter queue for undeliverable events', () => {
    const rules = ofType(s.resources, 'AWS::Events::Rule').filter(([id]) => id.startsWith('StorageEvents'));
    expect(rules).toHaveLength(1);
    const p = rules[0][1].Properties;
    expect(p.EventBusName).toBeUndefined();
    expect(p.EventPattern).toEqual({ source: ['aws.s3'], 'detail-type': ['Object Created', 'Object Deleted'] });
    expect(p.Targets).toHaveLength(1);
    expect(p.Targets[0].Arn).toEqual(getAtt(queueId, 'Arn'));
    expect(p.Targets[0].DeadLetterConfig.Arn).toEqual(getAtt(dlqId, 'Arn'));
  });

  it('queues are encrypted, SSL-only; the work queue dead-letters after bounded receives and hides a batch for 6× the timeout', () => {
    const q = s.resources[queueId].Properties;
    expect(q.SqsManagedSseEnabled).toBe(true);
    expect(s.resources[dlqId].Properties.SqsManagedSseEnabled).toBe(true);
    expect(q.RedrivePolicy).toEqual({ deadLetterTargetArn: getAtt(dlqId, 'Arn'), maxReceiveCount: STORAGE_EVENTS_MAX_RECEIVES });
    expect(q.VisibilityTimeout).toBe(6 * FUNCTIONS.storageEvents.timeout);
    const policies = ofType(s.resources, 'AWS::SQS::QueuePolicy').map(([, r]) => JSON.stringify(r.Properties));
    expect(policies.some((p) => p.includes('aws:SecureTransport') && p.includes(queueId))).toBe(true);
    // Only EventBridge, only from this rule, may send.
    expect(policies.some((p) => p.includes('events.amazonaws.com') && p.includes('aws:SourceArn'))).toBe(true);
  });

  it('the function consumes the queue in batches with a window and reports partial batch failures', () => {
    const [m] = ofType(s.resources, 'AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties).filter((x) => JSON.stringify(x.FunctionName) === JSON.stringify({ Ref: lambdaId(s.resources, 'storageEvents') }));
    expect(m.EventSourceArn).toEqual(getAtt(queueId, 'Arn'));
    expect(m.BatchSize).toBe(STORAGE_EVENTS_BATCH_SIZE);
    expect(m.MaximumBatchingWindowInSeconds).toBe(STORAGE_EVENTS_BATCH_WINDOW_SECONDS);
    expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  });

  it('context eventSourceAccounts allows exactly those accounts to put S3 events on the default bus', () => {
    const policies = ofType(s.resources, 'AWS::Events::EventBusPolicy').map(([, r]) => r.Properties);
    expect(policies.map((p) => p.Statement.Principal.AWS).sort()).toEqual(['arn:aws:iam::111122223333:root', 'arn:aws:iam::444455556666:root']);
    for (const p of policies) {
      expect(p.EventBusName).toBe('default');
      expect(p.Statement).toMatchObject({ Effect: 'Allow', Action: 'events:PutEvents', Condition: { StringEquals: { 'events:source': 'aws.s3' } } });
    }
    expect(ofType(synth().resources, 'AWS::Events::EventBusPolicy')).toHaveLength(0);
    expect(() => synth({ eventSourceAccounts: '12345' })).toThrow(/12-digit/);
  });
});
