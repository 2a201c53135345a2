/**
 * vitest globalSetup: starts every emulator once per run (in parallel, free ports), creates the
 * shared table, and provides the endpoints to tests via `inject('emulators')` /
 * `inject('tableName')`. A missing emulator (no java, no redis-server) fails the run; only
 * moto's STS is optional (absent → `emulators.sts` undefined).
 */
import { accessSync, constants } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { ensureTable } from '../../local/dynamodb-table';
import { startEmulators, type EmulatorEndpoints } from '../../local/emulators';

export const TEST_TABLE_NAME = 'labelsync-test';

// Node 20 is what this machine runs; the SDK's "Node 22 soon" warning once per worker is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

declare module 'vitest' {
  export interface ProvidedContext {
    emulators: EmulatorEndpoints;
    tableName: string;
    /** Executable of the headless browser (Debian's chromium, installed by .ci/run); undefined when absent. */
    chromium: string | undefined;
  }
}

/** `CHROMIUM_PATH`, else Debian's /usr/bin/chromium, if executable. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidate = env.CHROMIUM_PATH || '/usr/bin/chromium';
  try {
    accessSync(candidate, constants.X_OK);
    return candidate;
  } catch {
    return undefined;
  }
}

interface Shared {
  started: Promise<{ endpoints: EmulatorEndpoints; stop: () => Promise<void> }>;
  users: number;
}
const SHARED_KEY = Symbol.for('labelsync.test.emulators');

/**
 * Both test projects that use emulators list this file, and vitest runs a project's global setup
 * once per project: the first call starts everything, the others share it (the main process's
 * globalThis holds it), and the last teardown stops it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const g = globalThis as { [SHARED_KEY]?: Shared };
  const shared = (g[SHARED_KEY] ??= { started: startAll(), users: 0 });
  shared.users++;
  const { endpoints } = await shared.started;
  project.provide('emulators', endpoints);
  project.provide('tableName', TEST_TABLE_NAME);
  project.provide('chromium', chromiumPath());
  return async () => {
    if (--shared.users > 0) return;
    delete g[SHARED_KEY];
    await (await shared.started).stop();
  };
}

async function startAll(): Promise<{ endpoints: EmulatorEndpoints; stop: () => Promise<void> }> {
  const started = Date.now();
  const running = await startEmulators();
  try {
    const endpoints = running.endpoints as EmulatorEndpoints;
    const client = new DynamoDBClient({
      endpoint: endpoints.dynamodb.endpoint,
      region: endpoints.dynamodb.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await ensureTable(client, TEST_TABLE_NAME);
    client.destroy();
    const chromium = chromiumPath();
    if (chromium) process.env.CHROMIUM_PATH = chromium;
    // Workers inherit these: code reading shared/config/env.ts finds the local table and endpoint.
    process.env.LABELSYNC_TABLE = TEST_TABLE_NAME;
    process.env.LABELSYNC_DYNAMODB_ENDPOINT = endpoints.dynamodb.endpoint;
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.LABELSYNC_ALLOWED_ENDPOINTS ??= '127.0.0.1,localhost';
    // Node reads extra CAs only at process start; workers fork after this, so Azure clients built
    // by production code (no CA option) trust Azurite's OAuth/HTTPS endpoint in tests.
    process.env.NODE_EXTRA_CA_CERTS = endpoints.azureOauth.caCertPath;
    if (!process.env.CI_QUIET) {
      console.log(
        `[global-setup] emulators up in ${Date.now() - started} ms` + (endpoints.sts ? '' : ' (moto absent: no sts endpoint, STS tests mock it)') +
          (chromium ? '' : ' (no chromium at CHROMIUM_PATH or /usr/bin/chromium)'),
      );
    }
    return { endpoints, stop: () => running.stop() };
  } catch (e) {
    await running.stop();
    throw e;
  }
}
