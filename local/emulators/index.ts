/**
 * Starts the local emulators in parallel and returns their endpoints in the shape of
 * docs/design.md (the same JSON `npm run emulators` writes to .labelsync/emulators.json).
 * If any required emulator fails, the ones already up are stopped and the error is rethrown.
 */
import { startAzurite, startAzuriteOauth, type AzureEndpoint, type AzureOauthEndpoint } from './azurite';
import { startDynamoDbLocal, type DynamoDbEndpoint, type DynamoDbLocalOptions } from './dynamodb';
import { startGcs, type GcsEndpoint, type GcsServiceAccount } from './gcs';
import { startRedis, type RedisEndpoint } from './redis';
import { startS3, type S3Endpoint } from './s3';
import { startSts, type StsEndpoint } from './sts';

export type { AzureEndpoint, AzureOauthEndpoint, DynamoDbEndpoint, GcsEndpoint, GcsServiceAccount, RedisEndpoint, S3Endpoint, StsEndpoint };
export { startAzurite, startAzuriteOauth } from './azurite';
export { startDynamoDbLocal } from './dynamodb';
export { startGcs } from './gcs';
export { startRedis } from './redis';
export { startS3, assertLegacyOpenSsl } from './s3';
export { startSts, motoAvailable } from './sts';

/** Endpoints of running emulators (design.md). Services not started are absent. */
export interface EmulatorEndpoints {
  s3: S3Endpoint;
  azure: AzureEndpoint;
  gcs: GcsEndpoint;
  redis: RedisEndpoint;
  dynamodb: DynamoDbEndpoint;
  /** moto STS; absent when python3 has no moto (tests then mock STS and say so). */
  sts?: StsEndpoint;
  /** Service-account JSON the GCS emulator trusts (token_uri points at the emulator). */
  gcsCredentials: GcsServiceAccount;
  /** Azurite over HTTPS with `--oauth basic`; clients must trust `caCertPath`. */
  azureOauth: AzureOauthEndpoint;
}

export type EmulatorName = 's3' | 'azure' | 'azureOauth' | 'gcs' | 'redis' | 'dynamodb' | 'sts';
export const ALL_EMULATORS: readonly EmulatorName[] = ['s3', 'azure', 'azureOauth', 'gcs', 'redis', 'dynamodb', 'sts'];

export interface StartEmulatorsOptions {
  /** Subset to start (default all). `sts` is always best-effort. */
  only?: readonly EmulatorName[];
  /** DynamoDB Local options (persistent `dbPath` for `npm start`, fixed port...). */
  dynamodb?: DynamoDbLocalOptions;
}

export interface RunningEmulators {
  /** Partial when `only` was given. */
  endpoints: Partial<EmulatorEndpoints>;
  stop(): Promise<void>;
}

type Stoppable = { stop(): Promise<void> };

/** Starts the selected emulators in parallel; all-or-nothing. */
export async function startEmulators(opts: StartEmulatorsOptions = {}): Promise<RunningEmulators> {
  const wanted = new Set(opts.only ?? ALL_EMULATORS);
  const endpoints: Partial<EmulatorEndpoints> = {};
  const running: Stoppable[] = [];
  const track = <T extends Stoppable>(p: Promise<T>, use: (r: T) => void) =>
    p.then((r) => {
      running.push(r);
      use(r);
    });
  const jobs: Promise<void>[] = [];
  if (wanted.has('s3')) {
    jobs.push(track(startS3(), (r) => (endpoints.s3 = pick(r, ['endpoint', 'region', 'accessKeyId', 'secretAccessKey']))));
  }
  if (wanted.has('dynamodb')) {
    jobs.push(track(startDynamoDbLocal(opts.dynamodb), (r) => (endpoints.dynamodb = pick(r, ['endpoint', 'region']))));
  }
  if (wanted.has('azure')) {
    jobs.push(track(startAzurite(), (r) => (endpoints.azure = pick(r, ['blobEndpoint', 'accountName', 'accountKey']))));
  }
  if (wanted.has('azureOauth')) {
    jobs.push(
      track(startAzuriteOauth(), (r) => (endpoints.azureOauth = pick(r, ['blobEndpoint', 'accountName', 'accountKey', 'caCertPath']))),
    );
  }
  if (wanted.has('gcs')) {
    jobs.push(
      track(startGcs(), (r) => {
        endpoints.gcs = pick(r, ['apiEndpoint', 'projectId']);
        endpoints.gcsCredentials = r.credentials;
      }),
    );
  }
  if (wanted.has('redis')) jobs.push(track(startRedis(), (r) => (endpoints.redis = pick(r, ['host', 'port']))));
  if (wanted.has('sts')) {
    jobs.push(
      startSts().then((r) => {
        if (!r) return;
        running.push(r);
        endpoints.sts = pick(r, ['endpoint']);
      }),
    );
  }
  const stop = async () => {
    await Promise.allSettled(running.splice(0).map((r) => r.stop()));
  };
  const results = await Promise.allSettled(jobs);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length) {
    await stop();
    const msg = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n- ');
    throw new Error(`emulators failed to start:\n- ${msg}`);
  }
  return { endpoints, stop };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = o[k];
  return out;
}
