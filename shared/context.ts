/**
 * The type of what the composition root (`createApp` in shared/app.ts) builds once per process:
 * the parsed environment, the table handle, the secret box, the provider factory and the builders
 * of the sync and export dependencies. Use cases take an app (or parts of it) as a parameter.
 * Type-only on purpose: this module imports nothing at runtime, so no import cycle runs through it.
 */
import type { Env } from './config/env';
import type { SecretBox } from './crypto/secret-box';
import type { StorageItem } from './db/items';
import type { Db } from './db/repo-common';
import type { ExportDeps } from './export/deps';
import type { KeyLookup } from './api/storage-events/jwks';
import type { Authenticate } from './http/auth';
import type { GetProviderOptions, StorageTestHooks } from './storage/registry';
import type { StorageConfig, StorageProvider } from './storage/types';
import type { SyncDeps, SyncSettings } from './sync/deps';
import type { ExportSyncHooks } from './sync/export-hooks';
import type { RequestSyncDeps } from './sync/request-sync';
import type { SyncStarter } from './sync/starter';
import type { SyncScheduler } from './sync/sync-scheduler';
import type { DeliveryQueue, EventBus } from './webhooks/types';
import type { WebhookRuntime } from './webhooks/runtime';

/** Builds a provider for a (decrypted) storage config: validated, endpoint-guarded, cached. */
export type GetProvider = (config: StorageConfig, opts?: GetProviderOptions) => Promise<StorageProvider>;

/** Parts a caller may inject into `createApp` instead of the defaults built from the environment. */
export interface AppParts {
  /** Table handle (default: a document client on LABELSYNC_TABLE / LABELSYNC_DYNAMODB_ENDPOINT). */
  db?: Db;
  /** Provider factory (default: the storage registry with the app's provider settings). */
  getProvider?: GetProvider;
  /** STS client, Azure token credential, CA, SAS version, clock of the storage providers. */
  storageHooks?: StorageTestHooks;
  /** How sync executions start (default: Step Functions when LABELSYNC_STATE_MACHINE_ARN is set). */
  syncStarter?: SyncStarter;
  /**
   * Where storages' `sync_schedule`s live (default: EventBridge Scheduler when the scheduler
   * variables are set; `npm start` installs its timer, tests a recording double).
   */
  syncScheduler?: SyncScheduler;
  /** Replaces the full export sync a new target storage gets at once (default: requestSync). */
  onExportStorageCreated?: (storage: StorageItem) => Promise<void>;
  /** Webhook delivery jobs (default: SQS on LABELSYNC_WEBHOOK_QUEUE_URL, else an in-process queue). */
  deliveryQueue?: DeliveryQueue;
  /** Where events also go (default: EventBridge on LABELSYNC_EVENT_BUS_NAME, else `<data dir>/events.jsonl`). */
  eventBus?: EventBus;
}

export interface AppContext {
  /** The environment this app was built from, parsed and validated. */
  env: Env;
  /** The raw variables and injected parts the app was built from (see `withParts`). */
  source: Readonly<Record<string, string | undefined>>;
  parts: Readonly<AppParts>;
  db: Db;
  secretBox: SecretBox;
  getProvider: GetProvider;
  /** Resolves the caller of a request (token lookups cached per app). */
  authenticate: Authenticate;
  /** Google's OIDC signing keys (LABELSYNC_GCS_PUSH_JWKS_URL), cached per app, for Pub/Sub push tokens. */
  googlePushKeys: KeyLookup;
  /** The media-token signing key, loaded once per app (a failed load is retried on the next call). */
  signingKey(): Promise<Buffer>;
  /** A stored storage with its secrets decrypted into a provider config. */
  storageConfig(storage: StorageItem): Promise<StorageConfig>;
  /** The provider of a stored storage, cached per (storage id, updated_at) for resolve. */
  providerForStorage(storage: StorageItem): Promise<StorageProvider>;
  /** The schedules of storages' `sync_schedule`; undefined where none is configured (a schedule is then refused). */
  syncScheduler?: SyncScheduler;
  /** The export implementation of the sync steps (`role: "export"`). */
  exporter: ExportSyncHooks;
  /** Dependencies of the export stream handler and the DLQ replay (built once per app). */
  exportDeps(): ExportDeps;
  /** Sync step dependencies (memoised unless `overrides` are given). */
  syncDeps(overrides?: Partial<SyncSettings>): SyncDeps;
  /**
   * Dependencies of requestSync.
   * @throws Error when no sync starter is available (no injected one, no LABELSYNC_STATE_MACHINE_ARN)
   */
  requestSyncDeps(): RequestSyncDeps;
  /**
   * Called after an export storage is created (Label Studio runs a full export sync at once).
   * Errors are logged, the create still answers 201.
   */
  onExportStorageCreated?: (storage: StorageItem) => Promise<void>;
  /** Webhooks: the event sink use cases emit to, the delivery queue, the bus and the worker's dependencies. */
  webhooks: WebhookRuntime;
}
