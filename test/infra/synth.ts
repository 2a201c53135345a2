/**
 * Builds the Labelsync stack in-process for Template assertions. Bundling is skipped
 * (`aws:cdk:bundling-stacks: []`), so this takes about a second and needs no esbuild run.
 * `synth` answers the same frozen result for the same context within a worker: infra files share
 * a worker's module graph (vitest.config.ts), and a test that mutated the template would change
 * what later files see, so mutation throws instead.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { FunctionName } from '../../functions/manifest';
import { LabelsyncStack } from '../../lib/labelsync-stack';
import { FUNCTION_METADATA_KEY } from '../../lib/constructs/node-function';

export type CfnResource = { Type: string; Properties?: any; Metadata?: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

export interface Synthesized {
  app: App;
  stack: LabelsyncStack;
  template: Template;
  resources: Record<string, CfnResource>;
}

/** The app and stack only (no template): enough for checks that walk the construct tree. */
export function build(context: Record<string, unknown> = {}): { app: App; stack: LabelsyncStack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  return { app, stack: new LabelsyncStack(app, 'Labelsync') };
}

const synthesized = new Map<string, Synthesized>();

export function synth(context: Record<string, unknown> = {}): Synthesized {
  const key = JSON.stringify(context);
  let s = synthesized.get(key);
  if (!s) {
    const { app, stack } = build(context);
    const template = Template.fromStack(stack);
    s = { app, stack, template, resources: deepFreeze(structuredClone(template.toJSON().Resources)) };
    synthesized.set(key, s);
  }
  return s;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Logical ids of resources of one type. */
export function ofType(resources: Record<string, CfnResource>, type: string): [string, CfnResource][] {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

/** Logical id of the Lambda of a manifest function (found through its `labelsync:function` metadata). */
export function lambdaId(resources: Record<string, CfnResource>, name: FunctionName): string {
  const hits = ofType(resources, 'AWS::Lambda::Function').filter(([, r]) => r.Metadata?.[FUNCTION_METADATA_KEY] === name);
  if (hits.length !== 1) throw new Error(`expected one Lambda for ${name}, found ${hits.length}`);
  return hits[0][0];
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every allow statement attached (inline or via AWS::IAM::Policy) to the role of a manifest function. */
export function statementsOf(resources: Record<string, CfnResource>, name: FunctionName): { action: string; resource: unknown }[] {
  const fn = resources[lambdaId(resources, name)];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
  return roleStatements(resources, roleId);
}

export function roleStatements(resources: Record<string, CfnResource>, roleId: string): { action: string; resource: unknown }[] {
  const out: { action: string; resource: unknown }[] = [];
  const add = (doc: { Statement: Statement[] }) => {
    for (const s of doc.Statement) {
      if (s.Effect !== 'Allow') continue;
      for (const a of asArray(s.Action)) for (const r of asArray(s.Resource)) out.push({ action: a, resource: r });
    }
  };
  const role = resources[roleId];
  for (const p of role.Properties.Policies ?? []) add(p.PolicyDocument);
  if (role.Properties.ManagedPolicyArns?.length) throw new Error(`role ${roleId} has managed policies`);
  for (const [, p] of ofType(resources, 'AWS::IAM::Policy')) {
    if ((p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId)) add(p.Properties.PolicyDocument);
  }
  return out;
}

/** Actions of a function's role (deduplicated). */
export function actionsOf(resources: Record<string, CfnResource>, name: FunctionName): Set<string> {
  return new Set(statementsOf(resources, name).map((s) => s.action));
}

/** A reference to `Fn::GetAtt [id, attr]`, as it appears in templates. */
export const getAtt = (id: string, attr: string) => ({ 'Fn::GetAtt': [id, attr] });

/**
 * The state machine's ASL with every intrinsic replaced: Lambda ARNs become
 * `arn:aws:lambda:us-east-1:123456789012:function:<manifest name>`, so tests can tell tasks apart.
 */
export function stateMachineDefinition(resources: Record<string, CfnResource>): any {
  const [[, sm]] = ofType(resources, 'AWS::StepFunctions::StateMachine');
  const parts = sm.Properties.DefinitionString['Fn::Join'][1] as unknown[];
  const text = parts
    .map((p) => {
      if (typeof p === 'string') return p;
      const ga = (p as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
      if (!ga || ga[1] !== 'Arn') throw new Error(`unexpected intrinsic in definition: ${JSON.stringify(p)}`);
      const name = resources[ga[0]]?.Metadata?.[FUNCTION_METADATA_KEY];
      if (typeof name !== 'string') throw new Error(`definition references ${ga[0]}, which is not a manifest function`);
      return `arn:aws:lambda:us-east-1:123456789012:function:${name}`;
    })
    .join('');
  return JSON.parse(text);
}
