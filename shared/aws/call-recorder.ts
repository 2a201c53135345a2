/**
 * Records the AWS calls the app makes as IAM sees them (action, resource ARN, condition keys), so
 * tests can evaluate each call against the calling function's synthesized role policy. Nothing is
 * recorded, and no middleware is added to any client, unless a recorder is installed (tests): the
 * client factories call {@link recordCalls}, which is a no-op otherwise.
 *
 * Which function made a call is the {@link AsyncLocalStorage} store set around each invocation
 * (`runAsFunction`), because one process hosts every function locally.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Who signs a client's requests: the function's own role, or a storage's own credentials. */
export type CallIdentity = 'role' | 'storage';

export interface AwsCall {
  /** Manifest name of the function that made the call (`unknown` outside any invocation). */
  fn: string;
  /** IAM action, e.g. `dynamodb:UpdateItem`. */
  action: string;
  /** Resource ARN the action is authorized against. */
  resource: string;
  /** Condition keys known from the request (`dynamodb:LeadingKeys`, `s3:prefix`, `sts:ExternalId`). */
  context: Record<string, string | string[]>;
  identity: CallIdentity;
}

export interface CallRecorderOptions {
  /** Account of the ARNs built from names (table, KMS key id): the local runtime's in tests. */
  accountId: string;
  record(call: AwsCall): void;
}

export type AwsService = 'dynamodb' | 's3' | 'sqs' | 'states' | 'sts' | 'kms' | 'scheduler' | 'events';

type Ctx = Record<string, string | string[]>;
type Auth = { action: string; resource: string; context?: Ctx };
interface MiddlewareClient {
  middlewareStack: { add(mw: unknown, opts: { step: 'build'; name: string }): void };
  config: { region: unknown };
}

const invocation = new AsyncLocalStorage<string>();
let installed: CallRecorderOptions | undefined;
const registered = new WeakMap<object, { service: AwsService; identity: CallIdentity }>();

/** Installs (or with `undefined` removes) the process's recorder; clients built later record. */
export function installCallRecorder(opts: CallRecorderOptions | undefined): void {
  installed = opts;
}

/** Runs `body` as function `name`: calls made inside it (async continuations too) are attributed to it. */
export function runAsFunction<T>(name: string, body: () => T): T {
  return invocation.run(name, body);
}

const emit = (identity: CallIdentity, auth: Auth) =>
  installed?.record({ fn: invocation.getStore() ?? 'unknown', identity, context: {}, ...auth });

/**
 * Adds the recording middleware to `client` when a recorder is installed. `identity` says whose
 * credentials sign (only the role's calls are the role policy's business).
 */
export function recordCalls<C>(client: C, service: AwsService, opts: { identity?: CallIdentity; kmsKeyId?: string } = {}): C {
  const c = client as unknown as MiddlewareClient;
  // Injected test doubles may have no middleware stack; a shared client is instrumented once.
  if (!installed || typeof c.middlewareStack?.add !== 'function' || registered.has(c)) return client;
  const identity = opts.identity ?? 'role';
  registered.set(c, { service, identity });
  c.middlewareStack.add(
    (next: (a: unknown) => unknown, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
      const region = await (typeof c.config.region === 'function' ? c.config.region() : c.config.region);
      const command = (context.commandName ?? '').replace(/Command$/, '');
      const account = installed?.accountId ?? '000000000000';
      for (const auth of authorizationsOf(service, command, args.input, { region: String(region), account, kmsKeyId: opts.kmsKeyId })) emit(identity, auth);
      return next(args);
    },
    // Build step: after serialization, so document-client inputs are already marshalled; before
    // retries, so a retried request counts once.
    { step: 'build', name: 'labelsyncCallRecorder' },
  );
  return client;
}

/**
 * Records a call the local runtime answers in-process instead of sending it (StartExecution on the
 * local state machine runner), signed by the calling function's role in AWS.
 */
export function recordStandIn(auth: Auth): void {
  emit('role', auth);
}

/** Records a request signed by `client` outside its middleware stack (a presigned URL). */
export function recordSignedRequest(client: object, auth: Auth): void {
  const r = registered.get(client);
  if (r) emit(r.identity, auth);
}

interface Where {
  region: string;
  account: string;
  kmsKeyId?: string;
}

function authorizationsOf(service: AwsService, command: string, input: Record<string, unknown>, where: Where): Auth[] {
  switch (service) {
    case 'dynamodb':
      return dynamoAuths(command, input, where);
    case 's3':
      return [s3Auth(command, input)];
    case 'sts':
      return [{ action: `sts:${command}`, resource: String(input.RoleArn ?? '*'), context: input.ExternalId ? { 'sts:ExternalId': String(input.ExternalId) } : {} }];
    case 'kms':
      return [{ action: `kms:${command}`, resource: kmsKeyArn(String(input.KeyId ?? where.kmsKeyId ?? ''), where) }];
    case 'states':
      return [{ action: `states:${command}`, resource: String(input.stateMachineArn ?? input.executionArn ?? '*') }];
    case 'sqs':
      return [{ action: `sqs:${command}`, resource: queueArn(String(input.QueueUrl ?? ''), where) }];
    case 'scheduler':
      return schedulerAuths(command, input, where);
    case 'events': {
      const buses = ((input.Entries ?? []) as { EventBusName?: string }[]).map((e) => e.EventBusName ?? 'default');
      return [...new Set(buses)].map((b) => ({ action: `events:${command}`, resource: b.startsWith('arn:') ? b : `arn:aws:events:${where.region}:${where.account}:event-bus/${b}` }));
    }
  }
}

/** A schedule call is authorized on the schedule's ARN; creating or updating one also passes its target role. */
function schedulerAuths(command: string, input: Record<string, unknown>, w: Where): Auth[] {
  const arn = `arn:aws:scheduler:${w.region}:${w.account}:schedule/${String(input.GroupName ?? 'default')}/${String(input.Name ?? '')}`;
  const role = (input.Target as { RoleArn?: string } | undefined)?.RoleArn;
  return [{ action: `scheduler:${command}`, resource: arn }, ...(role ? [{ action: 'iam:PassRole', resource: role }] : [])];
}

const tableArn = (table: string, w: Where) => `arn:aws:dynamodb:${w.region}:${w.account}:table/${table}`;
const kmsKeyArn = (id: string, w: Where) => (id.startsWith('arn:') ? id : `arn:aws:kms:${w.region}:${w.account}:key/${id}`);
const queueArn = (url: string, w: Where) => {
  const [account, name] = (URL.canParse(url) ? new URL(url).pathname : '').split('/').filter(Boolean);
  return `arn:aws:sqs:${w.region}:${account ?? w.account}:${name}`;
};

/** The partition key value of a (marshalled or plain) key or item. */
function leadingKey(item: unknown): string | undefined {
  const pk = (item as Record<string, unknown> | undefined)?.pk as { S?: string } | string | undefined;
  return typeof pk === 'string' ? pk : pk?.S;
}

function keyed(action: string, table: string, items: unknown[], w: Where): Auth {
  const keys = [...new Set(items.map(leadingKey).filter((k): k is string => k !== undefined))];
  return { action, resource: tableArn(table, w), context: keys.length ? { 'dynamodb:LeadingKeys': keys } : {} };
}

/**
 * IAM authorizes batch and transaction calls per table and per item action: a TransactWriteItems
 * needs PutItem/UpdateItem/DeleteItem/ConditionCheckItem for each of its items.
 */
function dynamoAuths(command: string, input: Record<string, unknown>, w: Where): Auth[] {
  const table = String(input.TableName ?? '');
  switch (command) {
    case 'BatchWriteItem':
    case 'BatchGetItem':
      return Object.entries(input.RequestItems as Record<string, unknown>).map(([t, reqs]) => {
        const items = command === 'BatchGetItem'
          ? (reqs as { Keys: unknown[] }).Keys
          : (reqs as { PutRequest?: { Item: unknown }; DeleteRequest?: { Key: unknown } }[]).map((r) => r.PutRequest?.Item ?? r.DeleteRequest?.Key);
        return keyed(`dynamodb:${command}`, t, items, w);
      });
    case 'TransactWriteItems':
    case 'TransactGetItems':
      return (input.TransactItems as Record<string, { TableName: string; Key?: unknown; Item?: unknown }>[]).map((op) => {
        const [kind, body] = Object.entries(op)[0];
        const action = kind === 'ConditionCheck' ? 'ConditionCheckItem' : kind === 'Get' ? 'GetItem' : `${kind}Item`;
        return keyed(`dynamodb:${action}`, body.TableName, [body.Key ?? body.Item], w);
      });
    case 'Query':
    case 'Scan':
      return [{ action: `dynamodb:${command}`, resource: input.IndexName ? `${tableArn(table, w)}/index/${String(input.IndexName)}` : tableArn(table, w) }];
    default:
      return [keyed(`dynamodb:${command}`, table, [input.Key ?? input.Item], w)];
  }
}

const S3_ACTIONS: Record<string, string> = {
  ListObjectsV2: 's3:ListBucket',
  ListObjects: 's3:ListBucket',
  HeadBucket: 's3:ListBucket',
  HeadObject: 's3:GetObject',
  GetObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  DeleteObject: 's3:DeleteObject',
  GetBucketLocation: 's3:GetBucketLocation',
};

function s3Auth(command: string, input: Record<string, unknown>): Auth {
  const action = S3_ACTIONS[command] ?? `s3:${command}`;
  const bucket = String(input.Bucket ?? '');
  if (input.Key === undefined) {
    return { action, resource: `arn:aws:s3:::${bucket}`, context: action === 's3:ListBucket' && command !== 'HeadBucket' ? { 's3:prefix': String(input.Prefix ?? '') } : {} };
  }
  return { action, resource: `arn:aws:s3:::${bucket}/${String(input.Key)}` };
}
