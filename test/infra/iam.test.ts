import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { actionsOf, getAtt, lambdaId, ofType, roleStatements, statementsOf, synth, type CfnResource, type Statement, type Synthesized } from './synth';

const NAMES = Object.keys(FUNCTIONS) as FunctionName[];
const TABLE_WRITES = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
// syncFinalize only decrypts a storage's secrets (to redact them from the error): no storage access.
const STORAGE_FUNCTIONS: FunctionName[] = ['storages', 'resolve', 'syncStart', 'syncList', 'syncChunk', 'exportStream', 'exportReplay', 'scheduledSync', 'storageEvents'];
// A scheduled run requests a sync as the API does.
const SYNC_STARTERS: FunctionName[] = ['storages', 'scheduledSync'];

let s: Synthesized;
let tableArn: unknown;
let keyArn: unknown;
beforeAll(() => {
  s = synth();
  tableArn = getAtt(ofType(s.resources, 'AWS::DynamoDB::Table')[0][0], 'Arn');
  keyArn = getAtt(ofType(s.resources, 'AWS::KMS::Key')[0][0], 'Arn');
});

const allStatements = () => [
  ...ofType(s.resources, 'AWS::IAM::Role').flatMap(([id]) => roleStatements(s.resources, id)),
];

describe('iam: no broad grants anywhere', () => {
  it('no statement allows a service wildcard action', () => {
    const wild = allStatements().filter((st) => st.action === '*' || /^(dynamodb|kms|s3|sqs|states|lambda|sts|iam):\*$/.test(st.action) || st.action.endsWith(':*'));
    expect(wild).toEqual([]);
  });

  it('Resource "*" is used only for actions without resource-level permissions (and user-supplied role ARNs)', () => {
    const onStar = new Set(allStatements().filter((st) => st.resource === '*').map((st) => st.action));
    const allowed = new Set([
      'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets',
      'sts:AssumeRole', 'dynamodb:ListStreams',
      'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
    ]);
    expect([...onStar].filter((a) => !allowed.has(a))).toEqual([]);
  });

  it('no role carries a managed policy', () => {
    for (const [, role] of ofType(s.resources, 'AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns ?? []).toEqual([]);
  });

  it.each(NAMES)('%s may write only its own log group', (name) => {
    const logs = statementsOf(s.resources, name).filter((st) => st.action.startsWith('logs:'));
    const groupId = s.resources[lambdaId(s.resources, name)].Properties.LoggingConfig.LogGroup.Ref;
    expect(logs.map((st) => st.action).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    for (const st of logs) expect(st.resource).toEqual(getAtt(groupId, 'Arn'));
  });
});

describe('iam: table', () => {
  it('meta reads the table but cannot write it', () => {
    const a = actionsOf(s.resources, 'meta');
    expect(a.has('dynamodb:GetItem')).toBe(true);
    expect(a.has('dynamodb:Query')).toBe(true);
    for (const w of TABLE_WRITES) expect(a.has(w)).toBe(false);
  });

  it.each(NAMES.filter((n) => n !== 'meta'))('%s reads the table and its indexes and writes items of the table only', (name) => {
    const dynamo = statementsOf(s.resources, name).filter((st) => st.action.startsWith('dynamodb:'));
    for (const r of ['dynamodb:Query', 'dynamodb:GetItem']) {
      const resources = dynamo.filter((st) => st.action === r).map((st) => JSON.stringify(st.resource));
      expect(resources, r).toEqual(
        expect.arrayContaining([JSON.stringify(tableArn), JSON.stringify({ 'Fn::Join': ['', [tableArn, '/index/*']] })]),
      );
    }
    for (const w of TABLE_WRITES) {
      expect(dynamo.filter((st) => st.action === w).map((st) => st.resource), w).toEqual([tableArn]);
    }
    const management = dynamo.filter((st) => /Create|DeleteTable|UpdateTable|Restore|Backup|Scan|PartiQL/.test(st.action));
    expect(management).toEqual([]);
  });

  it.each([
    ['resolve', ['CONFIG#*', 'ORG#*']],
    ['syncStart', ['JOB#*', 'SUM#*', 'STORAGE#*', 'ORG#*']],
    ['syncList', ['JOB#*', 'SUM#*', 'STORAGE#*', 'ORG#*']],
    ['exportStream', ['XLINK#*', 'XFAIL*', 'STORAGE#*', 'ORG#*', 'WEBHOOK#*']],
    ['exportReplay', ['XLINK#*', 'XFAIL*', 'STORAGE#*', 'ORG#*', 'WEBHOOK#*']],
    ['webhooks', ['WEBHOOK#*', 'COUNTER#*']],
    ['webhookDeliver', ['WEBHOOK#*']],
  ] as const)('%s writes only the item families it owns (dynamodb:LeadingKeys)', (name, prefixes) => {
    const writes = fullStatementsOf(s.resources, name).filter((st) => st.Effect === 'Allow' && asList(st.Action).some((a) => TABLE_WRITES.includes(a)));
    expect(writes.length).toBe(1);
    expect([...asList(writes[0].Action)].sort()).toEqual([...TABLE_WRITES].sort());
    expect(writes[0].Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes } });
  });

  it('only exportStream and exportReplay (dead-lettered batches) read the table stream', () => {
    for (const name of NAMES) {
      expect(actionsOf(s.resources, name).has('dynamodb:GetRecords'), name).toBe(name === 'exportStream' || name === 'exportReplay');
    }
  });
});

describe('iam: KMS key', () => {
  it('only Decrypt and GenerateDataKey on the secrets key are granted to functions', () => {
    for (const name of NAMES) {
      const kms = statementsOf(s.resources, name).filter((st) => st.action.startsWith('kms:'));
      for (const st of kms) {
        expect(['kms:Decrypt', 'kms:GenerateDataKey']).toContain(st.action);
        expect(st.resource).toEqual(keyArn);
      }
    }
  });

  it('meta has no key access; sync and export only decrypt; API functions also wrap new data keys', () => {
    expect([...actionsOf(s.resources, 'meta')].filter((a) => a.startsWith('kms:'))).toEqual([]);
    for (const name of ['syncStart', 'syncList', 'syncChunk', 'syncFinalize', 'exportStream'] as const) {
      const a = actionsOf(s.resources, name);
      expect(a.has('kms:Decrypt')).toBe(true);
      expect(a.has('kms:GenerateDataKey')).toBe(false);
    }
    for (const name of ['projects', 'storages', 'resolve'] as const) {
      const a = actionsOf(s.resources, name);
      expect(a.has('kms:Decrypt') && a.has('kms:GenerateDataKey')).toBe(true);
    }
  });
});

describe('iam: state machine and storages', () => {
  it('only storages and scheduledSync can start (and describe) sync executions', () => {
    const [[smId]] = ofType(s.resources, 'AWS::StepFunctions::StateMachine');
    for (const name of NAMES) {
      const states = statementsOf(s.resources, name).filter((st) => st.action.startsWith('states:'));
      if (!SYNC_STARTERS.includes(name)) {
        expect(states, name).toEqual([]);
        continue;
      }
      expect(states.map((st) => st.action).sort()).toEqual(['states:DescribeExecution', 'states:StartExecution']);
      expect(states.find((st) => st.action === 'states:StartExecution')!.resource).toEqual({ Ref: smId });
      expect(JSON.stringify(states.find((st) => st.action === 'states:DescribeExecution')!.resource)).toContain(':execution:');
    }
    for (const name of SYNC_STARTERS) {
      const vars = s.resources[lambdaId(s.resources, name)].Properties.Environment.Variables;
      expect(vars.LABELSYNC_STATE_MACHINE_ARN).toEqual({ Ref: smId });
    }
  });

  it('the state machine invokes exactly the four sync functions', () => {
    const [[, sm]] = ofType(s.resources, 'AWS::StepFunctions::StateMachine');
    const roleId = sm.Properties.RoleArn['Fn::GetAtt'][0];
    const invoked = roleStatements(s.resources, roleId)
      .filter((st) => st.action === 'lambda:InvokeFunction')
      .map((st) => JSON.stringify(st.resource));
    const expected = (['syncStart', 'syncList', 'syncChunk', 'syncFinalize'] as const).map((n) => JSON.stringify(getAtt(lambdaId(s.resources, n), 'Arn')));
    expect(invoked).toEqual(expect.arrayContaining(expected));
    const others = (['meta', 'projects', 'storages', 'resolve', 'exportStream'] as const).map((n) => lambdaId(s.resources, n));
    expect(invoked.filter((r) => others.some((id) => r.includes(`"${id}"`)))).toEqual([]);
  });

  it('sts:AssumeRole only where storages are read or written (user-supplied role ARNs)', () => {
    for (const name of NAMES) {
      expect(actionsOf(s.resources, name).has('sts:AssumeRole'), name).toBe(STORAGE_FUNCTIONS.includes(name));
    }
  });

  it('sts:AssumeRole is allowed only with an external id, and this account\'s roles are denied', () => {
    for (const name of STORAGE_FUNCTIONS) {
      const sts = fullStatementsOf(s.resources, name).filter((st) => asList(st.Action).includes('sts:AssumeRole'));
      const allows = sts.filter((st) => st.Effect === 'Allow');
      expect(allows.length, name).toBeGreaterThan(0);
      for (const st of allows) expect(st.Condition, name).toEqual({ Null: { 'sts:ExternalId': 'false' } });
      const deny = sts.find((st) => st.Effect === 'Deny');
      expect(JSON.stringify(deny?.Resource), name).toMatch(/arn:.*:iam::.*AWS::AccountId.*:role\/\*/);
      const vars = s.resources[lambdaId(s.resources, name)].Properties.Environment.Variables;
      expect(vars.LABELSYNC_ACCOUNT_ID, name).toEqual({ Ref: 'AWS::AccountId' });
    }
  });

  it('no statement of any role allows sts:AssumeRole on "*" without the external id condition', () => {
    const roles = ofType(s.resources, 'AWS::IAM::Role').map(([id]) => id);
    const loose = roles.flatMap((id) => fullRoleStatements(s.resources, id)).filter(
      (st) => st.Effect === 'Allow' && asList(st.Action).some((a) => a === 'sts:AssumeRole' || a === 'sts:*') && !JSON.stringify(st.Condition ?? {}).includes('sts:ExternalId'),
    );
    expect(loose).toEqual([]);
  });

  it('assumableRoleArns exempts only the listed roles of this account from the deny; both context values reach the functions, validated at synth', () => {
    const listed = 'arn:aws:iam::111122223333:role/labelsync-own-reader';
    const grants = '{"org-1":["s3://source-a/team"]}';
    const t = synth({ assumableRoleArns: listed, ambientGrants: grants });
    const deny = fullStatementsOf(t.resources, 'syncChunk').find((st) => st.Effect === 'Deny' && asList(st.Action).includes('sts:AssumeRole'))!;
    expect(deny.NotResource).toEqual(listed);
    expect(deny.Condition).toEqual({ StringEquals: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } } });
    for (const name of STORAGE_FUNCTIONS) {
      const vars = t.resources[lambdaId(t.resources, name)].Properties.Environment.Variables;
      expect(vars.LABELSYNC_ASSUMABLE_ROLE_ARNS, name).toBe(listed);
      expect(vars.LABELSYNC_AMBIENT_GRANTS, name).toBe(grants);
    }
    // Both fail in readConfig, before any construct is built.
    expect(() => synth({ assumableRoleArns: 'arn:aws:s3:::bucket' })).toThrow(/assumableRoleArns/);
    expect(() => synth({ ambientGrants: '{"org-1":"s3://x"}' })).toThrow(/ambientGrants/);
  });

  it('without readableBuckets/writableBuckets no function can touch S3 with its own role', () => {
    for (const name of NAMES) expect([...actionsOf(s.resources, name)].filter((a) => a.startsWith('s3:')), name).toEqual([]);
  });

  it('readableBuckets lets the storage functions list and read those buckets; writableBuckets lets only export paths write', () => {
    const t = synth({ readableBuckets: ['arn:aws:s3:::source-a', 'arn:aws:s3:::source-b'], writableBuckets: 'arn:aws:s3:::target' });
    const on = (name: FunctionName, action: string) =>
      statementsOf(t.resources, name).filter((st) => st.action === action).map((st) => st.resource).sort();
    for (const name of STORAGE_FUNCTIONS) {
      expect(on(name, 's3:ListBucket'), name).toEqual(expect.arrayContaining(['arn:aws:s3:::source-a', 'arn:aws:s3:::source-b']));
      expect(on(name, 's3:GetObject'), name).toEqual(expect.arrayContaining(['arn:aws:s3:::source-a/*', 'arn:aws:s3:::source-b/*']));
      expect(on(name, 's3:PutObject').filter((r) => String(r).startsWith('arn:aws:s3:::source')), name).toEqual([]);
    }
    for (const name of ['syncChunk', 'exportStream'] as const) {
      expect(on(name, 's3:PutObject'), name).toEqual(['arn:aws:s3:::target/*']);
      expect(on(name, 's3:DeleteObject'), name).toEqual(['arn:aws:s3:::target/*']);
    }
    for (const name of ['storages', 'resolve', 'syncStart', 'syncList', 'syncFinalize', 'meta', 'projects'] as const) {
      expect(on(name, 's3:PutObject'), name).toEqual([]);
    }
    // Validating a keyless target storage (create, sync request) lists its bucket: no object access.
    expect(on('storages', 's3:ListBucket')).toContain('arn:aws:s3:::target');
    expect(on('storages', 's3:GetObject')).not.toContain('arn:aws:s3:::target/*');
    for (const name of ['meta', 'projects', 'syncFinalize'] as const) {
      expect([...actionsOf(t.resources, name)].filter((a) => a.startsWith('s3:')), name).toEqual([]);
    }
  });
});

type FullStatement = Statement & { NotResource?: unknown };
const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every statement (allow and deny, with conditions) attached to a role. */
function fullRoleStatements(resources: Record<string, CfnResource>, roleId: string): FullStatement[] {
  const docs: { Statement: FullStatement[] }[] = (resources[roleId].Properties.Policies ?? []).map((p: { PolicyDocument: { Statement: FullStatement[] } }) => p.PolicyDocument);
  for (const [, p] of ofType(resources, 'AWS::IAM::Policy')) {
    if ((p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId)) docs.push(p.Properties.PolicyDocument);
  }
  return docs.flatMap((d) => d.Statement);
}

function fullStatementsOf(resources: Record<string, CfnResource>, name: FunctionName): FullStatement[] {
  return fullRoleStatements(resources, resources[lambdaId(resources, name)].Properties.Role['Fn::GetAtt'][0] as string);
}
