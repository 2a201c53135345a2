/**
 * Environment configuration, parsed and validated once by the composition root (`createApp` in
 * shared/app.ts). Every variable the service reads is listed here (and in README.md's
 * configuration table); nothing else reads `process.env` directly. Every problem is reported at
 * once, in one Error naming each bad variable.
 */
import { resolve } from 'node:path';
import { accountIdVar, allowlistVar, ambientGrantsVar, booleanVar, fractionVar, intVar, nonNegativeIntVar, portVar, roleArnsVar, urlVar, type AmbientGrants, type Problems } from './parse-vars';

export type { AmbientGrant, AmbientGrants } from './parse-vars';

export interface Env {
  /** DynamoDB table name (CDK sets it; local runtime sets it). */
  table: string;
  /** Custom DynamoDB endpoint (DynamoDB Local); unset in AWS. */
  dynamodbEndpoint?: string;
  region: string;
  /** KMS key for envelope encryption of secrets (AWS). */
  kmsKeyId?: string;
  /** Local mode: directory holding the AES-256-GCM key file and DynamoDB Local data. */
  dataDir?: string;
  /** Sync state machine ARN (AWS) — the local runtime injects its own starter instead. */
  stateMachineArn?: string;
  /** Public base URL prefixed to resolve URLs (e.g. https://labelsync.example.com); empty → relative. */
  publicBaseUrl: string;
  /** LABELSYNC_GCS_PUSH_JWKS_URL: keys Pub/Sub push OIDC tokens are verified with (default Google's). */
  gcsPushJwksUrl: string;
  /** Hosts, CIDRs, optionally with a port, storage endpoints may use despite the private-network guard. */
  allowedEndpoints: string[];
  localFilesServingEnabled: boolean;
  localFilesDocumentRoot: string;
  /** Whether the localfiles storage type exists (false in AWS). */
  localFilesStorageEnabled: boolean;
  /**
   * LABELSYNC_EVENT_SUBSCRIBERS: this process runs long-lived notification subscribers (the local
   * runtime's file watchers and Redis keyspace subscribers), so types whose `event_sync` needs
   * one accept it (default true; the CDK functions set false: a Lambda cannot hold a subscription).
   */
  eventSubscribers: boolean;
  /** Lifetime of signed media tokens in resolve URLs, seconds (default 24 h). */
  mediaTokenTtlSeconds: number;
  /** Least lifetime of presigned audio/video URLs, seconds (default 6 h; a player sends its Range requests straight to them). */
  mediaPresignTtlSeconds: number;
  /** LABELSYNC_INLINE_PRESIGN: put presigned URLs straight into task data for every storage (default false). */
  inlinePresign: boolean;
  /** Max JSON task file size in bytes (default 50 MiB). */
  maxTaskFileBytes: number;
  /** Sync fan-out concurrency (Map MaxConcurrency) and objects per chunk. */
  syncConcurrency: number;
  syncChunkSize: number;
  /** Concurrent BatchWriteItem calls inside one sync chunk (default 8). */
  syncWriteConcurrency: number;
  /** LABELSYNC_LIST_PARTITIONS: key ranges a sync lists concurrently (ordered, seeking providers; default 16). */
  listPartitions: number;
  /** SQS DLQ URL for export records that could not be delivered (AWS). */
  exportDlqUrl?: string;
  /** PORT: HTTP port of the local runtime (`npm start`, default 8080; 0 picks a free one). */
  port: number;
  /** LABELSYNC_DYNAMODB_PORT: port of the DynamoDB Local `npm start` runs (default a free one). */
  dynamodbPort?: number;
  /**
   * LABELSYNC_AMBIENT_GRANTS: organizations and the buckets they may use with the service's own
   * identity (storages without keys); every other keyless S3/GCS storage is refused.
   */
  ambientGrants: AmbientGrants;
  /** LABELSYNC_ACCOUNT_ID: the service's own AWS account; its roles are assumable only when listed. */
  ownAccountId?: string;
  /** LABELSYNC_ASSUMABLE_ROLE_ARNS: roles of the service's own account s3s storages may assume. */
  assumableRoleArns: string[];
  /** LABELSYNC_STS_ENDPOINT: STS endpoint of s3s AssumeRole (moto locally); unset → AWS's. */
  stsEndpoint?: string;
  /**
   * LABELSYNC_AWS_STRICT: the local runtime and the test suite enforce the limits and failure
   * modes of AWS that the emulators do not (on in `npm test`, off by default in `npm start`).
   */
  awsStrict: boolean;
  /**
   * LABELSYNC_STRICT_THROTTLE_RATE (0..1, default 0): in AWS-strict mode, the share of DynamoDB
   * attempts answered with throttling (and of batches half processed).
   */
  strictThrottleRate: number;
  /**
   * LABELSYNC_STRICT_TRANSACTION_HOLD_MS (default 0): in AWS-strict mode, how much longer a
   * DynamoDB transaction keeps its items locked, so that overlaps become observable locally.
   */
  strictTransactionHoldMs: number;
  /** AWS_LAMBDA_FUNCTION_NAME: set by the Lambda runtime; only then do metrics go to stdout as EMF. */
  lambdaFunctionName?: string;
  /**
   * Where storages' `sync_schedule`s live in AWS (EventBridge Scheduler; set by CDK):
   * LABELSYNC_SCHEDULE_GROUP and LABELSYNC_SCHEDULE_NAME_PREFIX (together) let a function remove
   * schedules; LABELSYNC_SCHEDULED_SYNC_ARN and LABELSYNC_SCHEDULER_ROLE_ARN (together, with the
   * first two) also let it create them. Unset: no AWS scheduler.
   */
  syncSchedules?: { groupName: string; namePrefix: string; targetArn?: string; roleArn?: string };
  /** Webhook delivery settings (README "Webhooks"). */
  webhooks: WebhookEnv;
}

/** LABELSYNC_WEBHOOK_* and LABELSYNC_EVENT_BUS_NAME. */
export interface WebhookEnv {
  /** LABELSYNC_WEBHOOK_QUEUE_URL: SQS queue of delivery jobs (CDK sets it); unset → in-process queue. */
  queueUrl?: string;
  /** LABELSYNC_EVENT_BUS_NAME: EventBridge bus every event is also put on (CDK sets it). */
  eventBusName?: string;
  /** LABELSYNC_WEBHOOK_TIMEOUT_MS: connect + response timeout of one POST (default 10 s). */
  timeoutMs: number;
  /** LABELSYNC_WEBHOOK_MAX_ATTEMPTS: attempts before a delivery is dead-lettered (default 5). */
  maxAttempts: number;
  /** LABELSYNC_WEBHOOK_RETRY_BASE_MS: first retry delay; ×4 per attempt, jittered, capped at 15 min (default 30 s). */
  retryBaseMs: number;
  /** LABELSYNC_WEBHOOK_MAX_CONSECUTIVE_FAILURES: dead-lettered deliveries in a row that deactivate a webhook (default 50; 0 never). */
  maxConsecutiveFailures: number;
  /** LABELSYNC_WEBHOOK_BATCH_SIZE: objects per POST of a list event such as TASKS_CREATED (default 100). */
  batchSize: number;
}

type Source = Record<string, string | undefined>;

/** Variables that must be set together (a partial set names the missing ones); undefined when none is set. */
function together<N extends string>(source: Source, names: readonly N[], problems: Problems): Record<N, string> | undefined {
  const missing = names.filter((n) => !source[n]);
  if (missing.length === names.length) return undefined;
  if (missing.length) problems.push(`${missing.join(', ')} must be set together with ${names.filter((n) => source[n]).join(', ')}`);
  return missing.length ? undefined : (Object.fromEntries(names.map((n) => [n, source[n]])) as Record<N, string>);
}

/** The scheduler variables (see `Env.syncSchedules`). */
function syncSchedulesVar(source: Source, problems: Problems): Env['syncSchedules'] {
  const where = together(source, ['LABELSYNC_SCHEDULE_GROUP', 'LABELSYNC_SCHEDULE_NAME_PREFIX'], problems);
  const target = together(source, ['LABELSYNC_SCHEDULED_SYNC_ARN', 'LABELSYNC_SCHEDULER_ROLE_ARN'], problems);
  if (target && !where) problems.push('LABELSYNC_SCHEDULED_SYNC_ARN and LABELSYNC_SCHEDULER_ROLE_ARN need LABELSYNC_SCHEDULE_GROUP and LABELSYNC_SCHEDULE_NAME_PREFIX');
  if (!where) return undefined;
  return {
    groupName: where.LABELSYNC_SCHEDULE_GROUP,
    namePrefix: where.LABELSYNC_SCHEDULE_NAME_PREFIX,
    ...(target ? { targetArn: target.LABELSYNC_SCHEDULED_SYNC_ARN, roleArn: target.LABELSYNC_SCHEDULER_ROLE_ARN } : {}),
  };
}

/** The variable `name`, or the first of its aliases that is set. */
const first = (source: Source, ...names: string[]): [string, string | undefined] => {
  const name = names.find((n) => source[n] !== undefined) ?? names[0];
  return [name, source[name]];
};

/** Default local-files document root: a dedicated folder of the working directory, never the host's `/`. */
export const DEFAULT_DOCUMENT_ROOT = 'label-studio-data';

/** LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT (or its alias) as given, else the default folder (absolute). */
function documentRootVar(source: Source): string {
  return first(source, 'LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT', 'LOCAL_FILES_DOCUMENT_ROOT')[1] ?? resolve(DEFAULT_DOCUMENT_ROOT);
}

/**
 * LABELSYNC_AWS_STRICT alone, for local components built before (or without) a whole environment
 * (the local state machine runner).
 */
export function awsStrictOf(source: Source): boolean {
  const problems: Problems = [];
  const strict = booleanVar('LABELSYNC_AWS_STRICT', source.LABELSYNC_AWS_STRICT, false, problems);
  if (problems.length) throw new Error(`invalid environment: ${problems.join('; ')}`);
  return strict;
}

/**
 * Parses and validates `source`.
 * @throws Error `invalid environment: <problem>; <problem>…`, each problem naming its variable
 *         (a non-integer or non-positive count, a malformed boolean, URL, port or allowlist entry, a
 *         missing LABELSYNC_TABLE, a local-files document root `/` with serving enabled)
 */
export function parseEnv(source: Source): Env {
  const problems: Problems = [];
  const int = (name: string, d: number) => intVar(name, source[name], d, problems);
  const bool = (names: string[], d: boolean) => booleanVar(...first(source, ...names), d, problems);
  const url = (name: string) => urlVar(name, source[name], problems);
  const e: Env = {
    table: source.LABELSYNC_TABLE ?? '',
    dynamodbEndpoint: url('LABELSYNC_DYNAMODB_ENDPOINT'),
    region: source.AWS_REGION || source.AWS_DEFAULT_REGION || 'us-east-1',
    kmsKeyId: source.LABELSYNC_KMS_KEY_ID || undefined,
    dataDir: source.LABELSYNC_DATA_DIR || undefined,
    stateMachineArn: source.LABELSYNC_STATE_MACHINE_ARN || undefined,
    publicBaseUrl: (url('LABELSYNC_PUBLIC_BASE_URL') ?? '').replace(/\/+$/, ''),
    gcsPushJwksUrl: url('LABELSYNC_GCS_PUSH_JWKS_URL') ?? 'https://www.googleapis.com/oauth2/v3/certs',
    allowedEndpoints: allowlistVar('LABELSYNC_ALLOWED_ENDPOINTS', source.LABELSYNC_ALLOWED_ENDPOINTS, problems),
    localFilesServingEnabled: bool(['LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED', 'LOCAL_FILES_SERVING_ENABLED'], false),
    localFilesDocumentRoot: documentRootVar(source),
    localFilesStorageEnabled: bool(['LABELSYNC_LOCAL_FILES_STORAGE_ENABLED'], true),
    eventSubscribers: bool(['LABELSYNC_EVENT_SUBSCRIBERS'], true),
    mediaTokenTtlSeconds: int('LABELSYNC_MEDIA_TOKEN_TTL_SECONDS', 86400),
    mediaPresignTtlSeconds: int('LABELSYNC_MEDIA_PRESIGN_TTL_SECONDS', 6 * 3600),
    inlinePresign: bool(['LABELSYNC_INLINE_PRESIGN'], false),
    maxTaskFileBytes: int('LABELSYNC_MAX_TASK_FILE_BYTES', 50 * 1024 * 1024),
    syncConcurrency: int('LABELSYNC_SYNC_CONCURRENCY', 8),
    syncChunkSize: int('LABELSYNC_SYNC_CHUNK_SIZE', 1000),
    syncWriteConcurrency: int('LABELSYNC_SYNC_WRITE_CONCURRENCY', 8),
    listPartitions: int('LABELSYNC_LIST_PARTITIONS', 16),
    exportDlqUrl: url('LABELSYNC_EXPORT_DLQ_URL'),
    port: portVar('PORT', source.PORT, problems) ?? 8080,
    dynamodbPort: portVar('LABELSYNC_DYNAMODB_PORT', source.LABELSYNC_DYNAMODB_PORT, problems),
    ambientGrants: ambientGrantsVar('LABELSYNC_AMBIENT_GRANTS', source.LABELSYNC_AMBIENT_GRANTS, problems),
    ownAccountId: accountIdVar('LABELSYNC_ACCOUNT_ID', source.LABELSYNC_ACCOUNT_ID, problems),
    assumableRoleArns: roleArnsVar('LABELSYNC_ASSUMABLE_ROLE_ARNS', source.LABELSYNC_ASSUMABLE_ROLE_ARNS, problems),
    stsEndpoint: url('LABELSYNC_STS_ENDPOINT'),
    awsStrict: bool(['LABELSYNC_AWS_STRICT'], false),
    strictThrottleRate: fractionVar('LABELSYNC_STRICT_THROTTLE_RATE', source.LABELSYNC_STRICT_THROTTLE_RATE, 0, problems),
    strictTransactionHoldMs: nonNegativeIntVar('LABELSYNC_STRICT_TRANSACTION_HOLD_MS', source.LABELSYNC_STRICT_TRANSACTION_HOLD_MS, 0, problems),
    lambdaFunctionName: source.AWS_LAMBDA_FUNCTION_NAME || undefined,
    syncSchedules: syncSchedulesVar(source, problems),
    webhooks: {
      queueUrl: url('LABELSYNC_WEBHOOK_QUEUE_URL'),
      eventBusName: source.LABELSYNC_EVENT_BUS_NAME || undefined,
      timeoutMs: int('LABELSYNC_WEBHOOK_TIMEOUT_MS', 10_000),
      maxAttempts: int('LABELSYNC_WEBHOOK_MAX_ATTEMPTS', 5),
      retryBaseMs: int('LABELSYNC_WEBHOOK_RETRY_BASE_MS', 30_000),
      maxConsecutiveFailures: nonNegativeIntVar('LABELSYNC_WEBHOOK_MAX_CONSECUTIVE_FAILURES', source.LABELSYNC_WEBHOOK_MAX_CONSECUTIVE_FAILURES, 50, problems),
      batchSize: int('LABELSYNC_WEBHOOK_BATCH_SIZE', 100),
    },
  };
  if (!e.table) problems.push('LABELSYNC_TABLE is required');
  if (e.localFilesServingEnabled && e.localFilesStorageEnabled && resolve(e.localFilesDocumentRoot) === '/') {
    const [name] = first(source, 'LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT', 'LOCAL_FILES_DOCUMENT_ROOT');
    // Root `/` would let any organization attach the whole host, this service's keys included.
    problems.push(`${name} must not be '/' while local files serving is enabled: set it to the directory holding your data (e.g. ./label-studio-data)`);
  }
  if (problems.length) throw new Error(`invalid environment: ${problems.join('; ')}`);
  return e;
}
