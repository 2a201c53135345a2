/**
 * Config → provider. `getProvider` validates a StorageConfig's shape (ValidationError naming the
 * field), runs the endpoint guard on every user-supplied endpoint, builds the provider for the
 * type and caches it per credentials/config, so clients, presigners, assumed-role credentials
 * and delegation keys are reused across calls of a warm Lambda. `uriFor` is the pure
 * key → task URI mapping (spec §3.3).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { TokenCredential } from '@azure/identity';
import { StorageError, ValidationError, type FieldErrors } from '../errors';
import { env } from '../config/env';
import type { StorageConfig, StorageProvider } from './types';
import { STORAGE_TYPES } from './types';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, encodeKeyPath, type ProviderSettings } from './common';
import { checkEndpoint, pinnedLookup, type CheckedEndpoint } from './endpoint-guard';
import { compileKeyFilter } from './key-filter';
import { assumeRoleProvider, createStsClient, roleSessionName, type StsLike } from './sts';

/** Hooks for tests and the local runtime (STS and Azure AD are not reachable offline). */
export interface StorageTestHooks {
  /** Replaces the STS client used for `s3s` AssumeRole. */
  stsClient?: StsLike;
  /** STS endpoint (moto) for the real STS client; ignored when `stsClient` is set. */
  stsEndpoint?: string;
  /** Replaces ClientSecretCredential for `azure_spi`. */
  azureTokenCredential?: TokenCredential;
  /** Extra CA (PEM) trusted by the Azure client (Azurite over HTTPS). */
  azureCa?: string;
  /** SAS version override for Azure (Azurite 3.35 needs 2025-11-05 for user-delegation SAS). */
  azureSasVersion?: string;
  /** Clock for cached credentials (STS expiry, delegation keys). */
  now?: () => number;
  /** STS DurationSeconds (default 3600). */
  stsDurationSeconds?: number;
}

let hooks: StorageTestHooks = {};
/** Installs process-wide hooks (tests, local runtime). Clears the provider cache. */
export function setStorageTestHooks(h: StorageTestHooks): void {
  hooks = { ...h };
  clearProviderCache();
}

export interface GetProviderOptions {
  /** Used for the STS role session name `labelsync-<storageId>`. */
  storageId?: number;
  /** Cache key override; default a hash of the whole config (credentials included). */
  cacheKey?: string;
  /** Settings override (default from env()). */
  settings?: Partial<ProviderSettings>;
  /** Per-call hooks, merged over the process-wide ones. */
  hooks?: StorageTestHooks;
  /** Skip the cache (validation of a config being edited). */
  noCache?: boolean;
}

/** Settings from the environment. */
export function settingsFromEnv(): ProviderSettings {
  const e = env();
  return {
    maxReadBytes: e.maxTaskFileBytes,
    allowedEndpoints: e.allowedEndpoints,
    localFilesDocumentRoot: e.localFilesDocumentRoot,
    localFilesServingEnabled: e.localFilesServingEnabled,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  };
}

const blank = (v: unknown): boolean => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
const str = (v: unknown): string | undefined => (blank(v) ? undefined : String(v).trim());

/** S3 bucket naming rules (3–63 chars, lower-case letters, digits, dots, hyphens; no IP form). */
function s3BucketProblem(b: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b) || b.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(b)) {
    return `Invalid bucket name "${b}": use 3-63 lower-case letters, digits, dots and hyphens.`;
  }
  return undefined;
}

/** Credential JSON types accepted for GCS: their token endpoints are fixed by google-auth-library. */
const GCS_CREDENTIAL_TYPES = ['service_account', 'authorized_user'];

/**
 * Google's own storage API hosts. The GCS SDK (teeny-request → node-fetch) follows redirects and
 * takes no HTTP agent, so its connections can neither be pinned to the checked address nor kept
 * from following a redirect: a custom `gcs_endpoint` must be one of these or allow-listed.
 */
function isGoogleApiHost(host: string): boolean {
  return host === 'googleapis.com' || host.endsWith('.googleapis.com');
}

/**
 * Every shape problem of a config, per field (empty object = fine). Pure: no network.
 * Checks required fields per type, key pairs, JSON credentials, numeric port/db and regex_filter.
 */
export function parseConfigErrors(config: StorageConfig): FieldErrors {
  const errors: FieldErrors = {};
  const add = (f: string, m: string) => (errors[f] ??= []).push(m);
  if (!STORAGE_TYPES.includes(config.type)) add('type', `Unknown storage type '${String(config.type)}'`);
  try {
    compileKeyFilter(config.regex_filter);
  } catch (e) {
    if (e instanceof ValidationError) for (const [f, m] of Object.entries(e.fields)) m.forEach((x) => add(f, x));
  }
  const ttl = config.presign_ttl;
  if (ttl !== undefined && ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > 65535)) {
    add('presign_ttl', 'presign_ttl must be an integer number of minutes between 1 and 65535');
  }
  switch (config.type) {
    case 's3':
    case 's3s': {
      const bucket = str(config.bucket);
      if (!bucket) add('bucket', 'This field is required.');
      else {
        const p = s3BucketProblem(bucket);
        if (p) add('bucket', p);
      }
      const id = str(config.aws_access_key_id);
      const secret = str(config.aws_secret_access_key);
      const pairMsg = 'Access Key ID and Secret Access Key must be provided together.';
      if (id && !secret) add('aws_secret_access_key', pairMsg);
      if (secret && !id) add('aws_access_key_id', pairMsg);
      if (config.type === 's3s' && !str(config.role_arn)) add('role_arn', 'This field is required.');
      if (str(config.role_arn) && !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(str(config.role_arn)!)) {
        add('role_arn', 'role_arn must look like arn:aws:iam::<account id>:role/<name>');
      }
      if (str(config.s3_endpoint) && !/^https?:\/\//i.test(str(config.s3_endpoint)!)) add('s3_endpoint', 's3_endpoint must be an http(s) URL');
      break;
    }
    case 'gcs': {
      if (!str(config.bucket)) add('bucket', 'This field is required.');
      const creds = str(config.google_application_credentials);
      if (creds) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(creds);
        } catch {
          add('google_application_credentials', 'Google Application Credentials must be valid JSON string.');
        }
        if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
          add('google_application_credentials', 'Google Application Credentials must be a JSON object.');
        } else if (parsed !== undefined && !GCS_CREDENTIAL_TYPES.includes(String((parsed as { type?: unknown }).type))) {
          // external_account / impersonated credentials make google-auth-library fetch URLs taken
          // from the JSON itself (credential_source.url, token_url): an SSRF channel past the guard.
          add('google_application_credentials', `Google Application Credentials must be of type ${GCS_CREDENTIAL_TYPES.map((t) => `"${t}"`).join(' or ')}.`);
        }
      }
      if (str(config.gcs_endpoint) && !/^https?:\/\//i.test(str(config.gcs_endpoint)!)) add('gcs_endpoint', 'gcs_endpoint must be an http(s) URL');
      break;
    }
    case 'azure':
    case 'azure_spi': {
      if (!str(config.container)) add('container', 'This field is required.');
      if (!str(config.account_name)) add('account_name', 'This field is required.');
      // Without azure_endpoint the account name becomes the host (`<account>.blob.core.windows.net`):
      // Azure's own naming rule keeps `127.0.0.1:80/x?` or `x@host#` from redirecting the client.
      else if (!/^[a-z0-9]{3,24}$/.test(str(config.account_name)!)) add('account_name', 'account_name must be 3-24 lower-case letters and digits.');
      if (config.type === 'azure' && !str(config.account_key)) add('account_key', 'This field is required.');
      if (config.type === 'azure_spi') {
        for (const f of ['tenant_id', 'client_id', 'client_secret'] as const) if (!str(config[f])) add(f, 'This field is required.');
      }
      if (str(config.azure_endpoint) && !/^https?:\/\//i.test(str(config.azure_endpoint)!)) {
        add('azure_endpoint', 'azure_endpoint must be an http(s) URL');
      }
      break;
    }
    case 'redis': {
      if (!str(config.host)) add('host', 'This field is required (an empty host would connect to localhost).');
      const port = config.port;
      if (!blank(port) && !(Number.isInteger(Number(port)) && Number(port) > 0 && Number(port) < 65536)) add('port', 'port must be 1-65535');
      const db = config.db;
      if (db !== undefined && db !== null && !(Number.isInteger(db) && db >= 0 && db <= 65535)) add('db', 'db must be a non-negative integer');
      break;
    }
    case 'localfiles': {
      const p = str(config.path);
      if (!p) add('path', 'Path must be set for Local Files storage');
      else if (!path.posix.isAbsolute(p.replace(/\\/g, '/'))) add('path', `Path "${p}" must be absolute`);
      break;
    }
  }
  return errors;
}

/**
 * The URI a task points at for `key` (spec §3.3): `s3://bucket/key`, `gs://bucket/key`,
 * `azure-blob://container/key`, `azure-spi://container/key`, `redis://<db>/<key>` and for local
 * files `/data/local-files/?d=<path relative to LOCAL_FILES_DOCUMENT_ROOT, encoded per segment>`
 * (prefix it with the public base URL). Pure: no symlink resolution (`documentRoot` defaults to
 * env's). Cloud keys are not encoded: the resolver reads the key verbatim after the bucket.
 */
export function uriFor(config: StorageConfig, key: string, documentRoot?: string): string {
  switch (config.type) {
    case 's3':
    case 's3s':
      return `s3://${config.bucket}/${key}`;
    case 'gcs':
      return `gs://${config.bucket}/${key}`;
    case 'azure':
      return `azure-blob://${config.container}/${key}`;
    case 'azure_spi':
      return `azure-spi://${config.container}/${key}`;
    case 'redis':
      return `redis://${redisDb(config)}/${key}`;
    case 'localfiles': {
      const root = path.posix.normalize((documentRoot ?? env().localFilesDocumentRoot).replace(/\\/g, '/'));
      const dir = path.posix.normalize(String(config.path ?? '').trim().replace(/\\/g, '/'));
      const rel = path.posix.relative(root, path.posix.join(dir, key));
      return `/data/local-files/?d=${encodeKeyPath(rel)}`;
    }
  }
}

/** Redis db of a config: LS defaults to 1 for import and 2 for export. */
export function redisDb(config: StorageConfig): number {
  if (config.db !== undefined && config.db !== null) return Number(config.db);
  return config.role === 'export' ? 2 : 1;
}

// ---- cache ----------------------------------------------------------------------------------

const MAX_CACHED = 64;
const cache = new Map<string, Promise<StorageProvider>>();

/** Forgets (and closes) every cached provider. */
export function clearProviderCache(): void {
  for (const p of cache.values()) void p.then((x) => x.close(), () => undefined);
  cache.clear();
}

function configHash(config: StorageConfig, storageId: number | undefined): string {
  const sorted = Object.keys(config)
    .sort()
    .map((k) => [k, config[k]]);
  return createHash('sha256').update(JSON.stringify([storageId ?? null, sorted])).digest('hex');
}

/**
 * The provider for `config`, validated and cached.
 * @throws ValidationError naming the field for shape problems (missing bucket, key without
 *         secret, invalid regex_filter, bad local path...); StorageError('forbidden_endpoint')
 *         naming the field when a custom endpoint resolves to a private address;
 *         StorageError('unreachable') when it does not resolve.
 */
export async function getProvider(config: StorageConfig, opts: GetProviderOptions = {}): Promise<StorageProvider> {
  const errors = parseConfigErrors(config);
  if (Object.keys(errors).length) throw new ValidationError(errors);
  if (opts.noCache) return build(config, opts);
  const key = opts.cacheKey ?? configHash(config, opts.storageId);
  const hit = cache.get(key);
  if (hit) {
    // LRU: move to the end.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const p = build(config, opts);
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  while (cache.size > MAX_CACHED) {
    const oldest = cache.keys().next().value as string;
    const ev = cache.get(oldest);
    cache.delete(oldest);
    void ev?.then((x) => x.close(), () => undefined);
  }
  return p;
}

async function build(config: StorageConfig, opts: GetProviderOptions): Promise<StorageProvider> {
  const settings: ProviderSettings = { ...(opts.settings && isComplete(opts.settings) ? {} : settingsFromEnv()), ...opts.settings } as ProviderSettings;
  const h: StorageTestHooks = { ...hooks, ...opts.hooks };
  const guard = (endpoint: string, field: string): Promise<CheckedEndpoint> =>
    checkEndpoint(endpoint, field, { allowedEndpoints: settings.allowedEndpoints });
  const common = {
    regexFilter: config.regex_filter,
    recursive: !!config.recursive_scan,
    maxReadBytes: settings.maxReadBytes,
    connectTimeoutMs: settings.connectTimeoutMs,
    requestTimeoutMs: settings.requestTimeoutMs,
  };
  switch (config.type) {
    case 's3':
    case 's3s': {
      const { S3Provider } = await import('./providers/s3');
      const endpoint = str(config.s3_endpoint);
      const checked = endpoint ? await guard(endpoint, 's3_endpoint') : undefined;
      const region = str(config.region_name) ?? 'us-east-1';
      const id = str(config.aws_access_key_id);
      const staticCreds = id
        ? { accessKeyId: id, secretAccessKey: str(config.aws_secret_access_key)!, sessionToken: str(config.aws_session_token) }
        : undefined;
      let credentials: ConstructorParameters<typeof S3Provider>[0]['credentials'] = staticCreds;
      if (config.type === 's3s') {
        const sts =
          h.stsClient ??
          createStsClient({
            region,
            endpoint: h.stsEndpoint,
            credentials: staticCreds,
            requestHandler: { connectionTimeout: settings.connectTimeoutMs, requestTimeout: settings.requestTimeoutMs },
          });
        credentials = assumeRoleProvider({
          sts,
          roleArn: str(config.role_arn)!,
          externalId: str(config.external_id),
          sessionName: roleSessionName(opts.storageId),
          durationSeconds: h.stsDurationSeconds,
          now: h.now,
        });
      }
      return new S3Provider({
        ...common,
        type: config.type,
        bucket: str(config.bucket)!,
        prefix: config.prefix,
        region,
        endpoint,
        credentials,
        sseKmsKeyId: str(config.aws_sse_kms_key_id),
        lookup: checked ? pinnedLookup(checked) : undefined,
      });
    }
    case 'gcs': {
      const { GcsProvider } = await import('./providers/gcs');
      const endpoint = str(config.gcs_endpoint);
      if (endpoint) {
        const checked = await guard(endpoint, 'gcs_endpoint');
        if (!checked.allowed && !isGoogleApiHost(checked.host)) {
          throw new StorageError(
            'forbidden_endpoint',
            `gcs_endpoint: '${checked.host}' is not a Google API host; custom GCS endpoints (emulators) must be listed in LABELSYNC_ALLOWED_ENDPOINTS`,
          );
        }
      }
      const creds = str(config.google_application_credentials);
      return new GcsProvider({
        ...common,
        bucket: str(config.bucket)!,
        prefix: config.prefix,
        credentials: creds ? (JSON.parse(creds) as Record<string, unknown>) : undefined,
        projectId: str(config.google_project_id),
        endpoint,
      });
    }
    case 'azure':
    case 'azure_spi': {
      const { AzureBlobProvider } = await import('./providers/azure');
      const endpoint = str(config.azure_endpoint);
      const checked = endpoint ? await guard(endpoint, 'azure_endpoint') : undefined;
      let tokenCredential: TokenCredential | undefined;
      if (config.type === 'azure_spi') {
        if (h.azureTokenCredential) tokenCredential = h.azureTokenCredential;
        else {
          const { ClientSecretCredential } = await import('@azure/identity');
          tokenCredential = new ClientSecretCredential(str(config.tenant_id)!, str(config.client_id)!, str(config.client_secret)!, {
            retryOptions: { maxRetries: 2 },
          });
        }
      }
      return new AzureBlobProvider({
        ...common,
        type: config.type,
        container: str(config.container)!,
        accountName: str(config.account_name)!,
        accountKey: str(config.account_key),
        tokenCredential,
        endpoint,
        prefix: config.prefix,
        lookup: checked ? pinnedLookup(checked) : undefined,
        ca: h.azureCa,
        sasVersion: h.azureSasVersion,
        now: h.now,
      });
    }
    case 'redis': {
      const { RedisProvider } = await import('./providers/redis');
      const host = str(config.host)!;
      const checked = await guard(host, 'host');
      return new RedisProvider({
        ...common,
        // Connect to the checked address itself: a later DNS answer cannot redirect us.
        host: checked.addresses[0]?.address ?? checked.host,
        displayHost: checked.host,
        port: blank(config.port) ? 6379 : Number(config.port),
        password: str(config.password),
        db: redisDb(config),
        path: config.path ?? '',
      });
    }
    case 'localfiles': {
      const { createLocalProvider } = await import('./providers/local');
      return createLocalProvider({
        ...common,
        path: String(config.path),
        documentRoot: settings.localFilesDocumentRoot,
        servingEnabled: settings.localFilesServingEnabled ?? true,
      });
    }
  }
}

function isComplete(s: Partial<ProviderSettings>): s is ProviderSettings {
  return (
    s.maxReadBytes !== undefined &&
    s.allowedEndpoints !== undefined &&
    s.localFilesDocumentRoot !== undefined &&
    s.connectTimeoutMs !== undefined &&
    s.requestTimeoutMs !== undefined
  );
}
