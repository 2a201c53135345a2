import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Arn, ArnFormat, AssetHashType, DockerImage, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcardResources } from '../nag';
import type { FunctionName, FunctionSpec } from '../../functions/manifest';
import { TABLE_ENV } from '../../shared/db/schema';
import { METRICS_NAMESPACE } from '../../shared/metric-names';
import { BUNDLE_ENTRY } from './bundle';

/** Repository root: entries in the manifest are relative to it. */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** CfnFunction metadata key carrying the manifest name; the local runtime maps Task ARNs back through it. */
export const FUNCTION_METADATA_KEY = 'labelsync:function';

export interface NodeFunctionProps {
  /** The manifest entry (`FUNCTIONS[name]`); the construct id is the name. */
  spec: FunctionSpec;
  /** Extra environment on top of the defaults. */
  environment?: Record<string, string>;
  logRetentionDays: number;
  /** Ship source maps and run with --enable-source-maps (context `sourceMaps`; off by default). */
  sourceMaps?: boolean;
}

/**
 * One Lambda of the manifest with the service's defaults set once: Node.js 22 on arm64, per-handler
 * esbuild bundle (`bundle.ts`: ESM, minified, split so provider SDKs load on first use, AWS SDK v3
 * bundled and tree-shaken, source maps only with `sourceMaps`), timeout and memory
 * from the manifest, its own log group with retention, X-Ray tracing, Powertools env, and its own
 * role that may only write its own log group. Access to anything else is added with the `bind*` helpers.
 * The construct id is the manifest name (`new NodeFunction(scope, name, ...)`).
 */
export class NodeFunction extends lambda.Function {
  readonly manifestName: FunctionName;

  constructor(scope: Construct, id: FunctionName, props: NodeFunctionProps) {
    // The role and log group are siblings created before super(): a role of our own avoids the
    // AWSLambdaBasicExecutionRole managed policy (logs:* on every log group).
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `labelsync ${id} function`,
    });
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: retention(props.logRetentionDays),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    logGroup.grantWrite(role);
    const sourceMaps = props.sourceMaps ?? false;
    super(scope, id, {
      code: bundledCode(props.spec.entry, sourceMaps),
      handler: `${BUNDLE_ENTRY}.handler`,
      description: `labelsync ${id}: ${props.spec.description}`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(props.spec.timeout),
      memorySize: props.spec.memoryMb,
      role,
      logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'labelsync',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        // Parsing maps costs cold start (measured in docs/deploy.md): only when they are shipped.
        ...(sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        // Local-file storages only make sense on a developer machine.
        LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'false',
        LABELSYNC_EVENT_SUBSCRIBERS: 'false',
        ...props.environment,
      },
    });
    this.manifestName = id;
    (this.node.defaultChild as lambda.CfnFunction).addMetadata(FUNCTION_METADATA_KEY, id);
    acknowledgeWildcardResources(
      role,
      ['*'],
      'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (active tracing needs Resource "*"); sts:AssumeRole, where granted, is explained at bindAssumeRole.',
    );
    acknowledge(
      this,
      'AwsSolutions-L1',
      'nodejs22.x is the runtime the bundles are built (target node22) and tested for; moving to a newer runtime is a deliberate upgrade, not a default.',
    );
  }
}

/**
 * The function's code: `bundle-cli.ts` run locally at synth (no Docker; the image is never pulled).
 * Not NodejsFunction: its bundling passes esbuild `--outfile`, which rules out code splitting.
 * The asset hash is the bundle's, so an unchanged bundle is not re-uploaded.
 */
function bundledCode(entry: string, sourceMaps: boolean): lambda.Code {
  const cli = ['--import', 'tsx', path.join('lib', 'constructs', 'bundle-cli.ts'), entry];
  return lambda.Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      // Never run (local bundling always succeeds or throws), but CDK caches staged assets by these
      // options, so they must name the entry: the same command as the local one, in the image's paths.
      command: ['node', ...cli, '/asset-output', String(sourceMaps)],
      local: {
        tryBundle(outputDir) {
          const r = spawnSync(process.execPath, [...cli, outputDir, String(sourceMaps)], {
            cwd: PROJECT_ROOT,
            stdio: ['ignore', 'inherit', 'inherit'],
          });
          if (r.status !== 0) throw new Error(`bundling ${entry} failed (exit ${r.status ?? r.signal})`);
          return true;
        },
      },
    },
  });
}

function retention(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!allowed.includes(days)) throw new Error(`logRetentionDays must be one of ${allowed.join(', ')}, got ${days}`);
  return days as logs.RetentionDays;
}

/** What a function may do with the table. `stream` is read access to the table's stream. */
export interface TableAccess {
  read?: boolean;
  write?: boolean;
  /**
   * Partition-key prefixes (`JOB#`, `XFAIL`) the writes are limited to, through
   * `dynamodb:LeadingKeys`; absent: any item of the table.
   */
  writeKeys?: readonly string[];
  stream?: boolean;
}

/**
 * Sets `LABELSYNC_TABLE` and grants exactly the requested access to the table and its indexes
 * (item-level actions only: never table management, never `dynamodb:*`).
 */
export function bindTable(fn: lambda.Function, table: dynamodb.ITable, access: TableAccess): void {
  fn.addEnvironment(TABLE_ENV, table.tableName);
  const indexes = `${table.tableArn}/index/*`;
  if (access.read) {
    const actions = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable'];
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [table.tableArn, indexes] }));
    acknowledgeWildcardResources(fn.role!, [indexes], "Queries use the table's GSIs (gsi1, gsi2); <table>/index/* names only this table's indexes.");
  }
  if (access.write) {
    // Items are written through the table only (GSIs are maintained by DynamoDB). ForAllValues:
    // every item of a BatchWriteItem must match; each item of a transaction is authorized alone.
    const conditions = access.writeKeys && { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': access.writeKeys.map((k) => `${k}*`) } };
    const actions = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [table.tableArn], ...(conditions ? { conditions } : {}) }));
  }
  if (access.stream) table.grantStreamRead(fn);
}

/**
 * Sets `LABELSYNC_KMS_KEY_ID` and grants `kms:Decrypt`, plus `kms:GenerateDataKey` when the function
 * encrypts (envelope encryption creates a data key per secret). Never Encrypt/ReEncrypt/admin actions.
 */
export function bindKmsKey(fn: lambda.Function, key: kms.IKey, opts: { encrypt: boolean }): void {
  fn.addEnvironment('LABELSYNC_KMS_KEY_ID', key.keyArn);
  key.grant(fn, 'kms:Decrypt');
  if (opts.encrypt) key.grant(fn, 'kms:GenerateDataKey');
}

/**
 * ARN pattern of executions of `stateMachine`: `arn:…:execution:<state machine name><suffix>`
 * (`':*'` = every execution; `'/<map label>:*'` = child executions of a distributed map).
 */
export function executionsArn(stateMachine: sfn.IStateMachine, suffix: string): string {
  return Arn.format(
    {
      service: 'states',
      resource: 'execution',
      resourceName: `${Arn.split(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}${suffix}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    },
    Stack.of(stateMachine),
  );
}

/**
 * Sets `LABELSYNC_STATE_MACHINE_ARN` and allows starting executions of that state machine and
 * describing its executions — nothing else (no Stop, no other state machines).
 */
export function bindStateMachine(fn: lambda.Function, stateMachine: sfn.IStateMachine): void {
  fn.addEnvironment('LABELSYNC_STATE_MACHINE_ARN', stateMachine.stateMachineArn);
  const executions = executionsArn(stateMachine, ':*');
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachine.stateMachineArn] }));
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }));
  acknowledgeWildcardResources(
    fn.role!,
    [executions],
    'Execution names (<storageId>-<jobId>) are chosen at run time; DescribeExecution is limited to executions of this one state machine.',
  );
}

/**
 * Allows `sts:AssumeRole` for s3s storages. The role ARN is user-supplied (a customer's role in
 * their account), so the resource cannot be narrowed at deploy time; instead:
 * - the call must carry an external id (the code always sends the organization's; a role whose
 *   trust policy requires it cannot be assumed for another organization);
 * - roles of this deployment's own account are denied unless listed in `assumableRoleArns`
 *   (context): they may trust this account as a whole, so a user naming one would borrow them.
 */
export function bindAssumeRole(fn: lambda.Function, assumableRoleArns: readonly string[]): void {
  const stack = Stack.of(fn);
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: ['*'], conditions: { Null: { 'sts:ExternalId': 'false' } } }),
  );
  const ownRoles = `arn:${stack.partition}:iam::${stack.account}:role/*`;
  // Without an allow-list the plain resource form; with one, NotResource keeps the listed roles
  // out of the deny and aws:ResourceAccount scopes it to this account.
  fn.addToRolePolicy(
    assumableRoleArns.length
      ? new iam.PolicyStatement({
          effect: iam.Effect.DENY,
          actions: ['sts:AssumeRole'],
          notResources: [...assumableRoleArns],
          conditions: { StringEquals: { 'aws:ResourceAccount': stack.account } },
        })
      : new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['sts:AssumeRole'], resources: [ownRoles] }),
  );
  fn.addEnvironment('LABELSYNC_ACCOUNT_ID', stack.account);
  if (assumableRoleArns.length) fn.addEnvironment('LABELSYNC_ASSUMABLE_ROLE_ARNS', assumableRoleArns.join(','));
  acknowledgeWildcardResources(
    fn.role!,
    ['*'],
    "Role-based S3 storages carry a user-supplied cross-account role ARN unknown at deploy time; AssumeRole requires an external id (the organization's) and this account's own roles are denied unless allow-listed.",
  );
}

/**
 * Grants listing (no object access) of the given bucket ARNs: what `validate` of a keyless target
 * storage needs (HeadBucket and a one-key ListObjectsV2 both authorize as s3:ListBucket).
 */
export function bindBucketListing(fn: lambda.Function, bucketArns: string[]): void {
  if (bucketArns.length) fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket', 's3:GetBucketLocation'], resources: bucketArns }));
}

/**
 * Grants the function's own role read (list + get) and optionally write (put + delete) access to the
 * given S3 bucket ARNs: the "no keys" storage mode, where providers use the default credential chain.
 * Which organization may use which of them is LABELSYNC_AMBIENT_GRANTS (context `ambientGrants`):
 * without a grant the code refuses keyless storages.
 */
export function bindBuckets(fn: lambda.Function, bucketArns: string[], opts: { write: boolean }): void {
  if (!bucketArns.length) return;
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket', 's3:GetBucketLocation'], resources: bucketArns }));
  const objects = bucketArns.map((a) => `${a}/*`);
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects }));
  if (opts.write) fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:DeleteObject'], resources: objects }));
  acknowledgeWildcardResources(
    fn.role!,
    objects,
    'Object keys of a storage are arbitrary; access is limited to the buckets the deployer listed in readableBuckets/writableBuckets.',
  );
}
