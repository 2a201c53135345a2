import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { FUNCTION_METADATA_KEY } from '../../lib/constructs/node-function';
import { TABLE_ENV } from '../../shared/db/schema';
import { getAtt, lambdaId, ofType, synth, type Synthesized } from './synth';

const NAMES = Object.keys(FUNCTIONS) as FunctionName[];
let s: Synthesized;
beforeAll(() => {
  s = synth();
});

describe('functions', () => {
  it('are exactly one Lambda per manifest function, each tagged with its manifest name', () => {
    const lambdas = ofType(s.resources, 'AWS::Lambda::Function');
    expect(lambdas.map(([, r]) => r.Metadata?.[FUNCTION_METADATA_KEY]).sort()).toEqual([...NAMES].sort());
  });

  it('use the construct id of the manifest name (stable paths for the local runtime and dashboards)', () => {
    for (const name of NAMES) expect(s.stack.functions[name].node.id).toBe(name);
  });

  it.each(NAMES)('%s runs nodejs22.x on arm64 with the manifest timeout and memory, traced', (name) => {
    const fn = s.resources[lambdaId(s.resources, name)].Properties;
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Architectures).toEqual(['arm64']);
    expect(fn.Handler).toBe('index.handler');
    expect(fn.Timeout).toBe(FUNCTIONS[name].timeout);
    expect(fn.MemorySize).toBe(FUNCTIONS[name].memoryMb);
    expect(fn.TracingConfig).toEqual({ Mode: 'Active' });
  });

  it.each(NAMES)('%s gets the table and Powertools environment, no source maps by default', (name) => {
    const vars = s.resources[lambdaId(s.resources, name)].Properties.Environment.Variables;
    expect(vars[TABLE_ENV]).toEqual({ Ref: ofType(s.resources, 'AWS::DynamoDB::Table')[0][0] });
    expect(vars.POWERTOOLS_SERVICE_NAME).toBe('labelsync');
    expect(vars.NODE_OPTIONS).toBeUndefined();
    expect(vars.LABELSYNC_LOCAL_FILES_STORAGE_ENABLED).toBe('false');
  });

  it('context sourceMaps=true runs every function with --enable-source-maps', () => {
    const withMaps = synth({ sourceMaps: 'true' });
    for (const name of NAMES) expect(withMaps.resources[lambdaId(withMaps.resources, name)].Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
  });

  it.each(NAMES)('%s logs to its own log group with a retention', (name) => {
    const fn = s.resources[lambdaId(s.resources, name)].Properties;
    const groupId = fn.LoggingConfig.LogGroup.Ref as string;
    expect(s.resources[groupId].Type).toBe('AWS::Logs::LogGroup');
    expect(s.resources[groupId].Properties.RetentionInDays).toBe(30);
    const others = NAMES.filter((n) => n !== name).map((n) => s.resources[lambdaId(s.resources, n)].Properties.LoggingConfig.LogGroup.Ref);
    expect(others).not.toContain(groupId);
  });

  it('the KMS key id and state machine ARN are set only on functions bound to them', () => {
    const kms = s.resources[lambdaId(s.resources, 'storages')].Properties.Environment.Variables.LABELSYNC_KMS_KEY_ID;
    expect(kms).toEqual(getAtt(ofType(s.resources, 'AWS::KMS::Key')[0][0], 'Arn'));
    const meta = s.resources[lambdaId(s.resources, 'meta')].Properties.Environment.Variables;
    expect(meta.LABELSYNC_KMS_KEY_ID).toBeUndefined();
    expect(meta.LABELSYNC_STATE_MACHINE_ARN).toBeUndefined();
  });

  it('context options reach the functions as environment', () => {
    const t = synth({ syncConcurrency: 32, syncChunkSize: 500, publicBaseUrl: 'https://ls.example.com', allowedEndpoints: 'minio.internal,10.0.0.0/8' });
    const vars = t.resources[lambdaId(t.resources, 'syncList')].Properties.Environment.Variables;
    expect(vars).toMatchObject({
      LABELSYNC_SYNC_CONCURRENCY: '32',
      LABELSYNC_SYNC_CHUNK_SIZE: '500',
      LABELSYNC_PUBLIC_BASE_URL: 'https://ls.example.com',
      LABELSYNC_ALLOWED_ENDPOINTS: 'minio.internal,10.0.0.0/8',
    });
  });

  it('rejects malformed context instead of deploying something else', () => {
    expect(() => synth({ syncConcurrency: 'many' })).toThrow(/syncConcurrency/);
    expect(() => synth({ readableBuckets: 'my-bucket' })).toThrow(/not an S3 bucket ARN/);
    expect(() => synth({ readableBuckets: 'arn:aws:s3:::*' })).toThrow(/not an S3 bucket ARN/);
    expect(() => synth({ logRetentionDays: 31 })).toThrow(/logRetentionDays/);
  });
});
