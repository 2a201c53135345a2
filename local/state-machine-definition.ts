/**
 * Takes the sync state machine's ASL from the stack's construct tree, resolved as the
 * CloudFormation template holds it (so local runs execute exactly what would be deployed), and
 * resolves its intrinsic functions: each Lambda ARN reference is mapped back to the manifest
 * function through the `labelsync:function` metadata the node-function construct puts on every
 * CfnFunction.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StateMachineDefinition } from './asl/interpreter';
import aslValidator from 'asl-validator';
import { FUNCTIONS, type FunctionName } from '../functions/manifest';
import { LOCAL_ACCOUNT_ID } from './apigw-event';
import { localFunctionArn, REPO_ROOT } from './lambda-functions';

/** Metadata key on CfnFunction resources (lib/constructs/node-function.ts FUNCTION_METADATA_KEY). */
const FUNCTION_METADATA_KEY = 'labelsync:function';

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

export interface ResolvedStateMachine {
  /** The ASL with every intrinsic resolved (Lambda ARNs are local placeholders). */
  definition: StateMachineDefinition;
  /** Logical id of the state machine resource in the template. */
  logicalId: string;
}

/** Maps Lambda logical ids of the template to manifest function names. */
function lambdaNames(template: CfnTemplate): Map<string, FunctionName> {
  const out = new Map<string, FunctionName>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const name = r.Metadata?.[FUNCTION_METADATA_KEY];
    if (typeof name === 'string' && name in FUNCTIONS) out.set(id, name as FunctionName);
  }
  return out;
}

const PSEUDO: Record<string, (region: string) => string> = {
  'AWS::Partition': () => 'aws',
  'AWS::Region': (region) => region,
  'AWS::AccountId': () => LOCAL_ACCOUNT_ID,
  'AWS::URLSuffix': () => 'amazonaws.com',
  'AWS::StackName': () => 'Labelsync',
  'AWS::NoValue': () => '',
};

/** Evaluates the intrinsics CDK emits in a DefinitionString (Fn::Join, Fn::GetAtt, Ref, Fn::Sub of pseudo params). */
function evaluate(node: unknown, template: CfnTemplate, fns: Map<string, FunctionName>, region: string): string {
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => evaluate(p, template, fns, region)).join(sep);
    }
    if (o['Fn::GetAtt'] !== undefined) {
      const ga = o['Fn::GetAtt'];
      const [id, attr] = Array.isArray(ga) ? (ga as string[]) : String(ga).split('.');
      const fn = fns.get(id);
      if (fn && attr === 'Arn') return localFunctionArn(fn, region);
      const r = template.Resources[id];
      if (r?.Type === 'AWS::Lambda::Function') throw new Error(`Lambda ${id} in the state machine has no '${FUNCTION_METADATA_KEY}' metadata`);
      // Anything else (a bucket or table ARN in a service integration) gets a recognisable local placeholder.
      return `arn:aws:local:${region}:${LOCAL_ACCOUNT_ID}:${id}/${attr}`;
    }
    if (typeof o.Ref === 'string') {
      const pseudo = PSEUDO[o.Ref];
      if (pseudo) return pseudo(region);
      const fn = fns.get(o.Ref);
      if (fn) return localFunctionArn(fn, region);
      return `local-${o.Ref}`;
    }
    if (o['Fn::Sub'] !== undefined) {
      const sub = o['Fn::Sub'];
      const [text, vars] = Array.isArray(sub) ? (sub as [string, Record<string, unknown>]) : [String(sub), {}];
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        if (name in vars) return evaluate(vars[name], template, fns, region);
        if (PSEUDO[name]) return PSEUDO[name](region);
        const [id, attr] = name.split('.');
        return evaluate(attr ? { 'Fn::GetAtt': [id, attr] } : { Ref: id }, template, fns, region);
      });
    }
  }
  throw new Error(`unsupported intrinsic in the state machine definition: ${JSON.stringify(node).slice(0, 200)}`);
}

/**
 * Finds the (single) state machine of `template` and returns its ASL with intrinsics resolved.
 * Throws when the template has no or several state machines, or an unresolvable Lambda reference.
 */
export function resolveStateMachine(template: CfnTemplate, region: string): ResolvedStateMachine {
  const machines = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const [logicalId, sm] = machines[0];
  const fns = lambdaNames(template);
  const props = sm.Properties ?? {};
  let definition: unknown;
  if (props.Definition !== undefined) definition = props.Definition;
  else if (props.DefinitionString !== undefined) definition = JSON.parse(evaluate(props.DefinitionString, template, fns, region));
  else throw new Error('the state machine has neither Definition nor DefinitionString (S3 locations are not supported locally)');
  const subs = props.DefinitionSubstitutions as Record<string, unknown> | undefined;
  if (subs && Object.keys(subs).length) {
    let text = JSON.stringify(definition);
    for (const [k, v] of Object.entries(subs)) text = text.split('${' + k + '}').join(evaluate(v, template, fns, region));
    definition = JSON.parse(text);
  }
  return { definition: definition as StateMachineDefinition, logicalId };
}

/** Validates ASL with asl-validator; throws with every problem listed. */
export function validateDefinition(definition: StateMachineDefinition): void {
  // asl-validator annotates the object it checks (QueryLanguage): give it a copy.
  const { isValid, errorsText } = aslValidator(structuredClone(definition) as never, { checkArn: true, checkPaths: true });
  if (!isValid) throw new Error(`invalid state machine definition:\n${errorsText('\n')}`);
}

/**
 * Builds the CDK stack in-process (bundling skipped, cdk.json context applied) and returns the
 * resolved state machine. Only the state machine's definition and the Lambdas' metadata are
 * resolved, not the whole template: a full `app.synth()` renders and validates every resource and
 * took most of the 4–40 s a first start waited (the construct tree alone takes ~1 s). Blocks the
 * event loop meanwhile: servers use {@link loadStateMachine}, which runs it in a child process
 * and caches the result.
 */
export async function synthesizeStateMachine(region: string): Promise<ResolvedStateMachine> {
  const { App } = await import('aws-cdk-lib');
  const { LabelsyncStack } = await import('../lib/labelsync-stack');
  let cdkContext: Record<string, unknown> = {};
  try {
    cdkContext = (JSON.parse(await readFile(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  } catch {
    // no cdk.json: defaults
  }
  const app = new App({ context: { ...cdkContext, ...localContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new LabelsyncStack(app, 'Labelsync');
  return resolveStateMachine(await stateMachineResources(stack), region);
}

/**
 * The part of the stack's template the definition needs, resolved from the construct tree: the
 * state machine's definition properties and every Lambda's type and manifest metadata.
 */
async function stateMachineResources(stack: import('aws-cdk-lib').Stack): Promise<CfnTemplate> {
  const { CfnStateMachine } = await import('aws-cdk-lib/aws-stepfunctions');
  const { CfnFunction } = await import('aws-cdk-lib/aws-lambda');
  const resources: CfnTemplate['Resources'] = {};
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnFunction) {
      resources[stack.resolve(c.logicalId) as string] = { Type: c.cfnResourceType, Metadata: { [FUNCTION_METADATA_KEY]: c.getMetadata(FUNCTION_METADATA_KEY) } };
    } else if (c instanceof CfnStateMachine) {
      const props = { Definition: c.definition, DefinitionString: c.definitionString, DefinitionSubstitutions: c.definitionSubstitutions };
      resources[stack.resolve(c.logicalId) as string] = { Type: c.cfnResourceType, Properties: stack.resolve(props) as Record<string, unknown> };
    }
  }
  return { Resources: resources };
}

/**
 * Chunk writers of the local runtime when LABELSYNC_SYNC_CONCURRENCY is not set. DynamoDB Local
 * is one JVM that saturates a core with a few writers; more concurrent chunks only add contention
 * (100k-object blob syncs measured 0.84–0.97 of the raw write limit with 4, 0.74–0.91 with 8).
 * The deployed machine keeps the CDK default (8): DynamoDB scales with partitions.
 */
export const LOCAL_SYNC_CONCURRENCY = 4;
/**
 * BatchWriteItem calls in flight per chunk under the local runtime when
 * LABELSYNC_SYNC_WRITE_CONCURRENCY is not set: 4 chunks × 4 = 16 in flight, where DynamoDB Local
 * peaks (32 in flight measured ~10 % slower: 20.4–20.7 s against 21.9–23.8 s for 100k objects).
 */
export const LOCAL_SYNC_WRITE_CONCURRENCY = 4;
/**
 * Key ranges a listing of the local runtime lists concurrently when LABELSYNC_LIST_PARTITIONS is
 * not set: the local runtime shares its cores with DynamoDB Local and the emulators.
 */
export const LOCAL_LIST_PARTITIONS = 4;

/**
 * CDK context taken from the local environment: the Map's MaxConcurrency follows
 * LABELSYNC_SYNC_CONCURRENCY (default {@link LOCAL_SYNC_CONCURRENCY}), as the deployed machine
 * follows the `syncConcurrency` context that also sets that variable on the functions.
 */
function localContext(): Record<string, string> {
  return { syncConcurrency: process.env.LABELSYNC_SYNC_CONCURRENCY || String(LOCAL_SYNC_CONCURRENCY) };
}

/** Files whose content decides the synthesized definition (the cache key). */
async function definitionInputs(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of ['lib', 'bin']) {
    const entries = await readdir(join(REPO_ROOT, dir), { recursive: true }).catch(() => [] as string[]);
    for (const e of entries) if (e.endsWith('.ts')) files.push(join(dir, e));
  }
  files.push('functions/manifest.ts', 'shared/db/schema.ts', 'cdk.json', 'package-lock.json');
  return files.sort();
}

async function cacheKey(region: string): Promise<string> {
  const h = createHash('sha256').update(region).update(JSON.stringify(localContext()));
  for (const f of await definitionInputs()) {
    h.update(f);
    h.update(await readFile(join(REPO_ROOT, f)).catch(() => Buffer.alloc(0)));
  }
  return h.digest('hex');
}

/**
 * The resolved state machine for `region`, from `<cacheDir>/state-machine.json` when lib/, bin/,
 * the manifest, the table schema, cdk.json and the lockfile are unchanged since it was written;
 * otherwise synthesized in a child process (the caller's event loop keeps serving) and cached.
 * @throws Error with the child's stderr when synthesis fails or takes over `timeoutMs` (default 3 min)
 */
export async function loadStateMachine(
  region: string,
  opts: { cacheDir: string; timeoutMs?: number; signal?: AbortSignal },
): Promise<ResolvedStateMachine> {
  const file = join(opts.cacheDir, 'state-machine.json');
  const key = await cacheKey(region);
  try {
    const cached = JSON.parse(await readFile(file, 'utf8')) as { key: string } & ResolvedStateMachine;
    if (cached.key === key) return { definition: cached.definition, logicalId: cached.logicalId };
  } catch {
    // no usable cache
  }
  await mkdir(opts.cacheDir, { recursive: true });
  const out = join(opts.cacheDir, `.state-machine.${process.pid}.${Date.now()}.tmp`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'local', 'synth-cli.ts'), out, region], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
  const onAbort = () => child.kill('SIGTERM');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);
  try {
    if (code !== 0) throw new Error(`synthesizing the state machine failed (exit ${code}): ${stderr.trim()}`);
    const resolved = JSON.parse(await readFile(out, 'utf8')) as ResolvedStateMachine;
    await writeFile(out, JSON.stringify({ key, ...resolved }));
    await rename(out, file);
    return resolved;
  } finally {
    await rm(out, { force: true });
  }
}
