/** Shared set-up of the contract tests: settings and bucket creation on the emulators. */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { EmulatorEndpoints } from '../../local/emulators';
import { createS3Client } from '../../shared/storage/providers/s3';
import type { ProviderSettings } from '../../shared/storage/common';
import { providerSettingsOf } from '../../shared/app';
import { parseEnv } from '../../shared/config/env';
import { createStorageRegistry, type StorageRegistry, type StorageTestHooks } from '../../shared/storage/registry';
import type { TenancyPolicy } from '../../shared/storage/tenancy';

/**
 * Tenancy of registries built without an app: provider tests are about providers, so keyless
 * configs may use the emulators' ambient identity; test/security/tenant-identity.test.ts and
 * test/unit/storage-sts.test.ts pass their own policy per call.
 */
export const OPEN_TENANCY: TenancyPolicy = {
  ambientGrants: { '*': [{ scheme: '*', bucket: '*', prefix: '' }] },
  assumableRoleArns: [],
  externalIdOf: async (orgId) => `test-external-id-${orgId}`,
};

/** Emulators listen on 127.0.0.1: the endpoint guard must allow it explicitly. */
export function testSettings(extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    maxReadBytes: 1024 * 1024,
    allowedEndpoints: ['127.0.0.1', 'localhost'],
    localFilesDocumentRoot: '/',
    connectTimeoutMs: 3000,
    requestTimeoutMs: 15000,
    ...extra,
  };
}

/** Creates S3 buckets on an S3-compatible endpoint (ignores "already exists"). */
export async function createS3Buckets(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  region: string,
  buckets: string[],
): Promise<void> {
  const client = createS3Client({
    type: 's3',
    bucket: buckets[0],
    recursive: true,
    region,
    endpoint,
    credentials,
    maxReadBytes: 1,
    connectTimeoutMs: 3000,
    requestTimeoutMs: 15000,
  });
  try {
    for (const Bucket of buckets) {
      try {
        await client.send(new CreateBucketCommand({ Bucket }));
      } catch (e) {
        if (!/BucketAlready/.test((e as Error).name)) throw e;
      }
    }
  } finally {
    client.destroy();
  }
}

/** Cloud backends: prefix-scoped configs and full keys. */
export function cloudScoping<T extends object>(base: T) {
  return {
    scoped: (prefix: string, extra: object = {}) => ({ ...base, prefix, ...extra }),
    keyOf: (_prefix: string, fullKey: string) => fullKey,
  };
}

export type { EmulatorEndpoints };

/**
 * A storage registry of the test process. A call without `settings` gets the environment's at
 * that moment (the global setup exports the emulators' allowed endpoints; some suites set the
 * local-files root in their beforeAll); a call's partial `settings` go over those read at creation.
 */
export function testRegistry(hooks: StorageTestHooks = {}): StorageRegistry {
  const envSettings = () => providerSettingsOf(parseEnv(process.env));
  const registry = createStorageRegistry({ settings: envSettings(), hooks, tenancy: OPEN_TENANCY });
  return {
    getProvider: (config, opts = {}) => registry.getProvider(config, { ...opts, settings: opts.settings ?? envSettings() }),
    clear: () => registry.clear(),
  };
}
