import { beforeAll, describe, expect, it } from 'vitest';
import { getAtt, lambdaId, ofType, statementsOf, synth, type Synthesized } from './synth';

let s: Synthesized;
let mapping: any;
let queueId: string;
beforeAll(() => {
  s = synth();
  const mappings = ofType(s.resources, 'AWS::Lambda::EventSourceMapping');
  expect(mappings).toHaveLength(1);
  mapping = mappings[0][1].Properties;
  const queues = ofType(s.resources, 'AWS::SQS::Queue');
  expect(queues).toHaveLength(1);
  queueId = queues[0][0];
});

describe('export pipeline: stream mapping', () => {
  it('feeds the table stream to the exportStream function', () => {
    expect(mapping.FunctionName).toEqual({ Ref: lambdaId(s.resources, 'exportStream') });
    const [[tableId]] = ofType(s.resources, 'AWS::DynamoDB::Table');
    expect(mapping.EventSourceArn).toEqual(getAtt(tableId, 'StreamArn'));
    expect(mapping.StartingPosition).toBe('TRIM_HORIZON');
  });

  it('filters to annotation records by new image or, for deletes, old image', () => {
    const patterns = (mapping.FilterCriteria.Filters as { Pattern: string }[]).map((f) => JSON.parse(f.Pattern));
    expect(patterns).toHaveLength(2);
    expect(patterns).toContainEqual({ dynamodb: { NewImage: { kind: { S: ['annotation'] } } } });
    expect(patterns).toContainEqual({ dynamodb: { OldImage: { kind: { S: ['annotation'] } } } });
  });

  it('reports partial batch failures, bisects failing batches, bounds retries and record age', () => {
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.BisectBatchOnFunctionError).toBe(true);
    expect(mapping.MaximumRetryAttempts).toBeGreaterThan(0);
    expect(mapping.MaximumRetryAttempts).toBeLessThanOrEqual(10);
    // Stream records live 24 h: giving up must happen before they expire unseen.
    expect(mapping.MaximumRecordAgeInSeconds).toBeGreaterThan(0);
    expect(mapping.MaximumRecordAgeInSeconds).toBeLessThan(24 * 3600);
    expect(mapping.ParallelizationFactor).toBeGreaterThanOrEqual(1);
    expect(mapping.BatchSize).toBe(100);
    expect(mapping.MaximumBatchingWindowInSeconds).toBeGreaterThan(0);
  });

  it('sends what still fails to the dead-letter queue', () => {
    expect(mapping.DestinationConfig).toEqual({ OnFailure: { Destination: getAtt(queueId, 'Arn') } });
  });
});

describe('export pipeline: dead-letter queue', () => {
  it('is encrypted with KMS and keeps messages 14 days', () => {
    const q = s.resources[queueId].Properties;
    expect(q.KmsMasterKeyId).toBe('alias/aws/sqs');
    expect(q.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  it('refuses non-TLS access', () => {
    const [[, policy]] = ofType(s.resources, 'AWS::SQS::QueuePolicy');
    expect(policy.Properties.Queues).toEqual([{ Ref: queueId }]);
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('is known to the export function, which may send to it; reading it back is the replay script\'s (operator credentials)', () => {
    const vars = s.resources[lambdaId(s.resources, 'exportStream')].Properties.Environment.Variables;
    expect(vars.LABELSYNC_EXPORT_DLQ_URL).toEqual({ Ref: queueId });
    const onQueue = statementsOf(s.resources, 'exportStream')
      .filter((st) => JSON.stringify(st.resource) === JSON.stringify(getAtt(queueId, 'Arn')))
      .map((st) => st.action);
    expect(onQueue).toEqual(expect.arrayContaining(['sqs:SendMessage', 'sqs:GetQueueAttributes']));
    expect(onQueue.filter((a) => ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'].includes(a))).toEqual([]);
    expect(onQueue).not.toContain('sqs:*');
  });

  it('is reachable by no other function', () => {
    for (const name of ['meta', 'projects', 'storages', 'resolve', 'syncStart', 'syncList', 'syncChunk', 'syncFinalize'] as const) {
      expect(statementsOf(s.resources, name).some((st) => st.action.startsWith('sqs:'))).toBe(false);
    }
  });
});
