/**
 * The synthesized role policy of each manifest function with every intrinsic resolved to the ARN
 * the same resource has locally (the test table, the local state machine, the local account), and
 * an evaluator of recorded AWS calls against them (`@cloud-copilot/iam-simulate`, IAM's own
 * evaluation logic: explicit deny, conditions, wildcards).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { LOCAL_ACCOUNT_ID } from '../../local/apigw-event';
import { localStateMachineArn } from '../../local/asl-runner';
import { localFunctionArn } from '../../local/lambda-functions';
import type { AwsCall } from '../../shared/aws/call-recorder';
import { FUNCTION_METADATA_KEY } from '../../lib/constructs/node-function';
import { lambdaId, ofType, type CfnResource } from './synth';

export interface LocalNames {
  region: string;
  table: string;
}

export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Resolves CloudFormation intrinsics of a policy to local ARNs. */
export function resolver(resources: Record<string, CfnResource>, local: LocalNames): (v: unknown) => unknown {
  const { region, table } = local;
  const tableArn = `arn:aws:dynamodb:${region}:${LOCAL_ACCOUNT_ID}:table/${table}`;
  const pseudo: Record<string, string> = { 'AWS::AccountId': LOCAL_ACCOUNT_ID, 'AWS::Partition': 'aws', 'AWS::Region': region, 'AWS::URLSuffix': 'amazonaws.com' };
  const ref = (id: string): string => {
    if (pseudo[id]) return pseudo[id];
    const type = resources[id]?.Type;
    if (type === 'AWS::StepFunctions::StateMachine') return localStateMachineArn(region);
    if (type === 'AWS::DynamoDB::Table') return table;
    throw new Error(`no local equivalent of Ref ${id} (${type})`);
  };
  const getAtt = (id: string, attr: string): string => {
    const r = resources[id];
    switch (`${r?.Type}.${attr}`) {
      case 'AWS::DynamoDB::Table.Arn':
        return tableArn;
      case 'AWS::DynamoDB::Table.StreamArn':
        return `${tableArn}/stream/local`;
      case 'AWS::KMS::Key.Arn':
        return `arn:aws:kms:${region}:${LOCAL_ACCOUNT_ID}:key/local`;
      case 'AWS::SQS::Queue.Arn':
        return `arn:aws:sqs:${region}:${LOCAL_ACCOUNT_ID}:${id}`;
      case 'AWS::Logs::LogGroup.Arn':
        return `arn:aws:logs:${region}:${LOCAL_ACCOUNT_ID}:log-group:${id}:*`;
      case 'AWS::Events::EventBus.Arn':
        return `arn:aws:events:${region}:${LOCAL_ACCOUNT_ID}:event-bus/${id}`;
      case 'AWS::Lambda::Function.Arn':
        return localFunctionArn(r.Metadata?.[FUNCTION_METADATA_KEY] as FunctionName, region);
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${id}`;
    }
    throw new Error(`no local equivalent of GetAtt ${id}.${attr} (${r?.Type})`);
  };
  const resolve = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(resolve);
    if (!v || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if ('Ref' in o) return ref(o.Ref as string);
    if ('Fn::GetAtt' in o) return getAtt(...(o['Fn::GetAtt'] as [string, string]));
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(resolve).join(sep);
    }
    if ('Fn::Split' in o) {
      const [sep, s] = o['Fn::Split'] as [string, unknown];
      return String(resolve(s)).split(sep);
    }
    if ('Fn::Select' in o) {
      const [i, list] = o['Fn::Select'] as [number, unknown];
      return (resolve(list) as unknown[])[i];
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolve(x)]));
  };
  return resolve;
}

/** Every policy (inline and AWS::IAM::Policy) attached to the role of a manifest function, resolved. */
export function functionPolicies(resources: Record<string, CfnResource>, local: LocalNames): Record<FunctionName, PolicyDocument> {
  const resolve = resolver(resources, local);
  const out = {} as Record<FunctionName, PolicyDocument>;
  for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
    const roleId = resources[lambdaId(resources, name)].Properties.Role['Fn::GetAtt'][0] as string;
    const role = resources[roleId].Properties;
    if (role.ManagedPolicyArns?.length) throw new Error(`${name}: managed policies are not evaluated`);
    const docs = [
      ...(role.Policies ?? []).map((p: { PolicyDocument: unknown }) => p.PolicyDocument),
      ...ofType(resources, 'AWS::IAM::Policy')
        .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
        .map(([, p]) => p.Properties.PolicyDocument),
    ];
    const statements = docs.flatMap((d) => (resolve(d) as { Statement: PolicyStatement[] }).Statement);
    out[name] = { Version: '2012-10-17', Statement: statements };
  }
  return out;
}

/** IAM's verdict on one recorded call under `policy`. */
export async function evaluate(policy: PolicyDocument, call: AwsCall): Promise<string> {
  const r = await runSimulation(
    {
      identityPolicies: [{ name: 'role', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/labelsync-${call.fn}`,
        action: call.action,
        resource: { resource: call.resource, accountId: LOCAL_ACCOUNT_ID },
        contextVariables: call.context,
      },
    },
    {},
  );
  return r.resultType === 'error' ? `error: ${r.errors.message}` : r.overallResult;
}

const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/**
 * Allow statements (action × resource) of `policy` that no allowed call in `calls` used: what the
 * role may do that no scenario needed.
 */
export function unexercised(policy: PolicyDocument, calls: AwsCall[]): string[] {
  const out: string[] = [];
  for (const st of policy.Statement) {
    if (st.Effect !== 'Allow') continue;
    for (const action of asList(st.Action)) {
      for (const resource of asList(st.Resource)) {
        const used = calls.some((c) => glob(action).test(c.action) && glob(resource).test(c.resource));
        if (!used) out.push(`${action} on ${resource}${st.Condition ? ` if ${JSON.stringify(st.Condition)}` : ''}`);
      }
    }
  }
  return out;
}
