import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../shared/db/schema';
import { ofType, synth, type Synthesized } from './synth';

let s: Synthesized;
beforeAll(() => {
  s = synth();
});

describe('data: table', () => {
  it('is the single table of shared/db/schema.ts: string pk/sk, on-demand, both GSIs with projection ALL', () => {
    const tables = ofType(s.resources, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(1);
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: TABLE_SCHEMA.globalIndexes.map((g) => ({
        IndexName: g.name,
        KeySchema: [
          { AttributeName: g.partitionKey, KeyType: 'HASH' },
          { AttributeName: g.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    });
    const attrs = tables[0][1].Properties.AttributeDefinitions as { AttributeName: string; AttributeType: string }[];
    const keyNames = [TABLE_SCHEMA.partitionKey, TABLE_SCHEMA.sortKey, ...TABLE_SCHEMA.globalIndexes.flatMap((g) => [g.partitionKey, g.sortKey])];
    expect(attrs.map((a) => a.AttributeName).sort()).toEqual([...keyNames].sort());
    expect(attrs.every((a) => a.AttributeType === 'S')).toBe(true);
  });

  it('streams new and old images, has PITR, the TTL attribute, encryption at rest and deletion protection', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('is retained when the stack is deleted', () => {
    s.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('data: secrets key', () => {
  it('is one symmetric KMS key with rotation, retained on delete', () => {
    const keys = ofType(s.resources, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    s.template.hasResource('AWS::KMS::Key', {
      Properties: Match.objectLike({ EnableKeyRotation: true }),
      DeletionPolicy: 'Retain',
    });
    expect(keys[0][1].Properties.KeySpec ?? 'SYMMETRIC_DEFAULT').toBe('SYMMETRIC_DEFAULT');
  });

  it('is exported as an output together with the table name', () => {
    s.template.hasOutput('SecretsKeyArn', {});
    s.template.hasOutput('TableName', {});
  });
});
