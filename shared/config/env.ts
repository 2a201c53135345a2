/**
 * Environment configuration, parsed once per cold start. Every variable the service reads is
 * listed here (and in README.md); nothing else reads `process.env` directly.
 * Problems are reported all at once as one ValidationError-like message.
 */
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
  /** Hosts or CIDRs storage endpoints may use despite the private-network guard. */
  allowedEndpoints: string[];
  localFilesServingEnabled: boolean;
  localFilesDocumentRoot: string;
  /** Whether the localfiles storage type exists (false in AWS). */
  localFilesStorageEnabled: boolean;
  /** Lifetime of signed media tokens in resolve URLs, seconds (default 24 h). */
  mediaTokenTtlSeconds: number;
  /** LABELSYNC_INLINE_PRESIGN: put presigned URLs straight into task data for every storage (default false). */
  inlinePresign: boolean;
  /** Max JSON task file size in bytes (default 50 MiB). */
  maxTaskFileBytes: number;
  /** Sync fan-out concurrency (Map MaxConcurrency) and objects per chunk. */
  syncConcurrency: number;
  syncChunkSize: number;
  /** Concurrent BatchWriteItem calls inside one sync chunk (default 8). */
  syncWriteConcurrency: number;
  /** SQS DLQ URL for export records that could not be delivered (AWS). */
  exportDlqUrl?: string;
}

const bool = (v: string | undefined, d: boolean): boolean =>
  v === undefined || v === '' ? d : ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());

function int(name: string, v: string | undefined, d: number, problems: string[]): number {
  if (v === undefined || v === '') return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    problems.push(`${name} must be a positive integer, got '${v}'`);
    return d;
  }
  return n;
}

/** Parses `source` (default `process.env`). Throws one Error listing every problem. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const problems: string[] = [];
  const e: Env = {
    table: source.LABELSYNC_TABLE ?? '',
    dynamodbEndpoint: source.LABELSYNC_DYNAMODB_ENDPOINT || undefined,
    region: source.AWS_REGION || source.AWS_DEFAULT_REGION || 'us-east-1',
    kmsKeyId: source.LABELSYNC_KMS_KEY_ID || undefined,
    dataDir: source.LABELSYNC_DATA_DIR || undefined,
    stateMachineArn: source.LABELSYNC_STATE_MACHINE_ARN || undefined,
    publicBaseUrl: (source.LABELSYNC_PUBLIC_BASE_URL ?? '').replace(/\/+$/, ''),
    allowedEndpoints: (source.LABELSYNC_ALLOWED_ENDPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    localFilesServingEnabled: bool(source.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED ?? source.LOCAL_FILES_SERVING_ENABLED, false),
    localFilesDocumentRoot: source.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT ?? source.LOCAL_FILES_DOCUMENT_ROOT ?? '/',
    localFilesStorageEnabled: bool(source.LABELSYNC_LOCAL_FILES_STORAGE_ENABLED, true),
    mediaTokenTtlSeconds: int('LABELSYNC_MEDIA_TOKEN_TTL_SECONDS', source.LABELSYNC_MEDIA_TOKEN_TTL_SECONDS, 86400, problems),
    inlinePresign: bool(source.LABELSYNC_INLINE_PRESIGN, false),
    maxTaskFileBytes: int('LABELSYNC_MAX_TASK_FILE_BYTES', source.LABELSYNC_MAX_TASK_FILE_BYTES, 50 * 1024 * 1024, problems),
    syncConcurrency: int('LABELSYNC_SYNC_CONCURRENCY', source.LABELSYNC_SYNC_CONCURRENCY, 8, problems),
    syncChunkSize: int('LABELSYNC_SYNC_CHUNK_SIZE', source.LABELSYNC_SYNC_CHUNK_SIZE, 1000, problems),
    syncWriteConcurrency: int('LABELSYNC_SYNC_WRITE_CONCURRENCY', source.LABELSYNC_SYNC_WRITE_CONCURRENCY, 8, problems),
    exportDlqUrl: source.LABELSYNC_EXPORT_DLQ_URL || undefined,
  };
  if (!e.table) problems.push('LABELSYNC_TABLE is required');
  if (problems.length) throw new Error(`invalid environment: ${problems.join('; ')}`);
  return e;
}

let cached: Env | undefined;
/** The process's environment, parsed on first use. */
export function env(): Env {
  return (cached ??= parseEnv());
}
/** Tests and the local runtime change the environment; this forgets the parsed copy. */
export function resetEnvCache(): void {
  cached = undefined;
}
