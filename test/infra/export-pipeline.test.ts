import { beforeAll, describe, expect, it } from 'vitest';
import { getAtt, lambdaId, ofType, statementsOf, synth, type Synthesized } from './synth';
import { FUNCTIONS } from '../../functions/manifest';
import { EXPORT_DLQ_BATCH_SIZE, EXPORT_STREAM_SETTINGS } from '../../shared/export/stream-settings';
import { EXPORT_MAPPING, StreamPoller } from '../../local/stream-poller';
import { LocalDlq } from '../../local/dlq';

let s: Synthesized;
let mapping: any;
let dlqMapping: any;
let queueId: string;
beforeAll(() => {
  s = synth();
  // The export pipeline's two mappings (the storage events queue has its own, test/infra/storage-events.test.ts).
  const mappings = ofType(s.resources, 'AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties).filter((m) => JSON.stringify(m.FunctionName) !== JSON.stringify({ Ref: lambdaId(s.resources, 'storageEvents') }));
  expect(mappings).toHaveLength(2);
  mapping = mappings.find((m) => m.StartingPosition);
  dlqMapping = mappings.find((m) => !m.StartingPosition);
  // The export pipeline's queue (the execution-failed rule has its own dead-letter queue).
  const queues = ofType(s.resources, 'AWS::SQS::Queue').filter(([id]) => id.startsWith('Export'));
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

  it('synthesizes exactly the shared stream settings, which the local poller runs with too', () => {
    const S = EXPORT_STREAM_SETTINGS;
    expect({
      BatchSize: mapping.BatchSize,
      MaximumBatchingWindowInSeconds: mapping.MaximumBatchingWindowInSeconds,
      ParallelizationFactor: mapping.ParallelizationFactor,
      MaximumRetryAttempts: mapping.MaximumRetryAttempts,
      BisectBatchOnFunctionError: mapping.BisectBatchOnFunctionError,
      MaximumRecordAgeInSeconds: mapping.MaximumRecordAgeInSeconds,
    }).toEqual({
      BatchSize: S.batchSize,
      MaximumBatchingWindowInSeconds: S.batchingWindowSeconds,
      ParallelizationFactor: S.parallelizationFactor,
      MaximumRetryAttempts: S.retryAttempts,
      BisectBatchOnFunctionError: S.bisectOnError,
      MaximumRecordAgeInSeconds: S.maxRecordAgeSeconds,
    });
    const poller = new StreamPoller({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', tableName: 't', handler: async () => undefined, dlq: new LocalDlq('/nonexistent') });
    expect(poller.settings).toEqual({
      batchSize: mapping.BatchSize,
      batchingWindowMs: mapping.MaximumBatchingWindowInSeconds * 1000,
      retryAttempts: mapping.MaximumRetryAttempts,
      maxRecordAgeSeconds: mapping.MaximumRecordAgeInSeconds,
      bisectOnError: mapping.BisectBatchOnFunctionError,
    });
    expect(EXPORT_MAPPING.batchingWindowMs).toBe(mapping.MaximumBatchingWindowInSeconds * 1000);
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
    const [[, policy]] = ofType(s.resources, 'AWS::SQS::QueuePolicy').filter(([id]) => id.startsWith('Export'));
    expect(policy.Properties.Queues).toEqual([{ Ref: queueId }]);
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  const onQueue = (name: 'exportStream' | 'exportReplay') =>
    statementsOf(s.resources, name)
      .filter((st) => JSON.stringify(st.resource) === JSON.stringify(getAtt(queueId, 'Arn')))
      .map((st) => st.action);

  it('is sent to by the stream function only (the mapping sends with its role); the replay function consumes it', () => {
    expect(onQueue('exportStream')).toContain('sqs:SendMessage');
    expect(onQueue('exportStream')).not.toEqual(expect.arrayContaining(['sqs:ReceiveMessage']));
    expect(onQueue('exportStream')).not.toEqual(expect.arrayContaining(['sqs:DeleteMessage']));
    expect(onQueue('exportReplay')).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']));
    expect(onQueue('exportReplay')).not.toContain('sqs:SendMessage');
    expect(dlqMapping.FunctionName).toEqual({ Ref: lambdaId(s.resources, 'exportReplay') });
    expect(dlqMapping.EventSourceArn).toEqual(getAtt(queueId, 'Arn'));
    expect(dlqMapping.BatchSize).toBe(EXPORT_DLQ_BATCH_SIZE);
    expect(dlqMapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    // SQS refuses a mapping whose queue hides messages for less than the function may run.
    const timeout = s.resources[lambdaId(s.resources, 'exportReplay')].Properties.Timeout;
    expect(s.resources[queueId].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(timeout);
  });

  it('recorded failures are replayed on a schedule by the replay function', () => {
    const rules = ofType(s.resources, 'AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression);
    const replay = rules.filter(([, r]) => JSON.stringify(r.Properties.Targets).includes(lambdaId(s.resources, 'exportReplay')));
    expect(replay).toHaveLength(1);
    expect(replay[0][1].Properties.ScheduleExpression).toBe(`rate(${FUNCTIONS.exportReplay.everyMinutes} minutes)`);
    expect(replay[0][1].Properties.State).toBe('ENABLED');
  });

  it('is reachable by no other function', () => {
    for (const name of ['meta', 'projects', 'storages', 'resolve', 'syncStart', 'syncList', 'syncChunk', 'syncFinalize'] as const) {
      expect(statementsOf(s.resources, name).some((st) => st.action.startsWith('sqs:'))).toBe(false);
    }
  });
});
