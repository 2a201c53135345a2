/**
 * The composition root: `createApp` parses and validates the whole environment once, eagerly, and
 * builds everything the use cases get as parameters — the document client, the secret box, the
 * provider factory over the storage registry, the sync starter, the export implementation of the
 * sync steps, the token authenticator, the signing key, resolve's provider cache and the
 * SyncDeps / RequestSyncDeps builders. Nothing here is process-wide: two apps share no state
 * (tests build one per configuration; the process keeps one in shared/process-app.ts).
 */
import { tenancyPolicy } from './api/organizations';
import type { KeyLookup } from './api/storage-events/jwks';
import { loadStorageConfig } from './api/storages';
import { parseEnv, type Env } from './config/env';
import type { AppContext, AppParts, GetProvider } from './context';
import { secretBoxFor } from './crypto/secret-box';
import { loadSigningKey } from './crypto/signing-key';
import { createDocumentClient } from './db/client';
import type { Db } from './db/repo-common';
import type { ExportDeps } from './export/deps';
import { syncNewExportStorage } from './export/on-create';
import { exportDepsFromContext } from './export/runtime';
import { exportSyncHooks } from './export/sync-hooks';
import { createTokenAuthenticator } from './http/auth';
import { createStorageProviderCache } from './resolve/deps';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, type ProviderSettings } from './storage/common';
import type { StorageRegistry, StorageTestHooks } from './storage/registry';
import type { StorageConfig } from './storage/types';
import { buildRequestSyncDeps, buildSyncDeps } from './sync/context';
import type { SyncDeps } from './sync/deps';
import { StepFunctionsSyncStarter, type SyncStarter } from './sync/starter';
import { EventBridgeSyncScheduler } from './sync/eventbridge-scheduler';
import type { SyncScheduler } from './sync/sync-scheduler';
import { buildWebhookRuntime } from './webhooks/runtime';

export type { AppContext, AppParts } from './context';

/** Provider settings of an environment. */
export function providerSettingsOf(env: Env): ProviderSettings {
  return {
    maxReadBytes: env.maxTaskFileBytes,
    allowedEndpoints: env.allowedEndpoints,
    localFilesDocumentRoot: env.localFilesDocumentRoot,
    localFilesServingEnabled: env.localFilesServingEnabled,
    dataDir: env.dataDir,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  };
}

/**
 * The provider factory of an app: its own storage registry (definitions + provider cache) with
 * the app's settings and hooks, so two apps never share a provider. The registry module (and its
 * SDKs) loads on first use, so handlers without storages skip it.
 */
function registryProvider(env: Env, db: Db, hooks: StorageTestHooks): GetProvider {
  const settings = providerSettingsOf(env);
  const tenancy = tenancyPolicy(env, db);
  const allHooks: StorageTestHooks = { stsEndpoint: env.stsEndpoint, ...hooks };
  let registry: Promise<StorageRegistry> | undefined;
  return async (config, opts) => {
    registry ??= import('./storage/registry').then((m) => m.createStorageRegistry({ settings, hooks: allHooks, tenancy }));
    return (await registry).getProvider(config, opts);
  };
}

/** The cached key set of Pub/Sub push tokens; its module loads on the first push (only the storages function sees one). */
function googleKeys(url: string): KeyLookup {
  let lookup: Promise<KeyLookup> | undefined;
  return async (kid) => (await (lookup ??= import('./api/storage-events/jwks').then((m) => m.createJwksLookup({ url }))))(kid);
}

/** `load` once; a failed load is forgotten so the next call retries. */
function memoised<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () =>
    (p ??= load().catch((e) => {
      p = undefined;
      throw e;
    }));
}

function defaultDb(env: Env): Db {
  const strict = env.awsStrict ? { throttleRate: env.strictThrottleRate, holdMs: env.strictTransactionHoldMs } : undefined;
  return { doc: createDocumentClient({ endpoint: env.dynamodbEndpoint, region: env.region, strict }), table: env.table };
}

function defaultStarter(env: Env): SyncStarter | undefined {
  return env.stateMachineArn ? new StepFunctionsSyncStarter(env.stateMachineArn, env.region) : undefined;
}

function defaultScheduler(env: Env): SyncScheduler | undefined {
  return env.syncSchedules ? new EventBridgeSyncScheduler({ region: env.region, ...env.syncSchedules }) : undefined;
}

/**
 * Builds an app from `source` (default `process.env`) and injected `parts`.
 * @throws Error `invalid environment: …` naming every bad variable (see parseEnv)
 */
export function createApp(source: Record<string, string | undefined> = process.env, parts: AppParts = {}): AppContext {
  const env = parseEnv(source);
  const db = parts.db ?? defaultDb(env);
  const secretBox = secretBoxFor(env);
  const getProvider = parts.getProvider ?? registryProvider(env, db, parts.storageHooks ?? {});
  const storageConfig = (s: Parameters<AppContext['storageConfig']>[0]) => loadStorageConfig(s, secretBox);
  const starter = parts.syncStarter ?? defaultStarter(env);
  let syncDeps: SyncDeps | undefined;
  let exportDeps: ExportDeps | undefined;
  const app: AppContext = {
    env,
    source: { ...source },
    parts,
    db,
    secretBox,
    getProvider,
    syncScheduler: parts.syncScheduler ?? defaultScheduler(env),
    authenticate: createTokenAuthenticator(db),
    googlePushKeys: googleKeys(env.gcsPushJwksUrl),
    signingKey: memoised(() => loadSigningKey({ env, db, secretBox })),
    storageConfig,
    providerForStorage: createStorageProviderCache(async (s) => getProvider(await storageConfig(s))),
    exporter: exportSyncHooks,
    exportDeps: () => (exportDeps ??= exportDepsFromContext(app, storageConfig)),
    syncDeps: (overrides) => (overrides && Object.keys(overrides).length ? buildSyncDeps(app, overrides) : (syncDeps ??= buildSyncDeps(app))),
    requestSyncDeps: () => {
      if (!starter) throw new Error('no sync starter: LABELSYNC_STATE_MACHINE_ARN is not set and none was installed');
      return buildRequestSyncDeps(app, starter);
    },
    // Label Studio syncs a new target storage at once.
    onExportStorageCreated: parts.onExportStorageCreated ?? ((s) => syncNewExportStorage(app.requestSyncDeps(), s)),
    webhooks: buildWebhookRuntime(env, db, secretBox, parts),
  };
  return app;
}

/**
 * A new app from the same variables as `app` with `parts` (and variables in `vars`) replaced.
 * The table handle is kept unless `parts.db` or the variables change. Tests use it to swap one
 * part (a counting provider factory, a fault-injecting table) without touching the others.
 * @throws Error as createApp
 */
export function withParts(app: AppContext, parts: AppParts, vars?: Record<string, string | undefined>): AppContext {
  const keepDb = vars === undefined ? { db: app.db } : {};
  return createApp({ ...app.source, ...vars }, { ...app.parts, ...keepDb, ...parts });
}
