/**
 * Builders of the sync dependencies over an app (shared/app.ts calls them once per app): table,
 * decrypted storage configs, the provider factory, the export implementation and the tuning knobs
 * from the app's environment (`LABELSYNC_SYNC_CHUNK_SIZE`, `LABELSYNC_MAX_TASK_FILE_BYTES`, …).
 */
import type { AppContext } from '../context';
import { listProjectStorages } from '../db/repo-storages';
import type { RequestSyncDeps } from './request-sync';
import type { SyncStarter } from './starter';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps, type SyncSettings } from './deps';

type SyncApp = Pick<AppContext, 'db' | 'env' | 'getProvider' | 'storageConfig' | 'exporter'> & Partial<Pick<AppContext, 'webhooks'>>;

/** The sync settings of an environment, with `overrides` on top. */
export function syncSettingsOf(env: AppContext['env'], overrides: Partial<SyncSettings> = {}): SyncSettings {
  return {
    ...DEFAULT_SYNC_SETTINGS,
    chunkSize: env.syncChunkSize,
    firstStepChunks: 4 * env.syncConcurrency,
    chunkConcurrency: env.syncConcurrency,
    writeConcurrency: env.syncWriteConcurrency,
    listPartitions: env.listPartitions,
    maxTaskFileBytes: env.maxTaskFileBytes,
    publicBaseUrl: env.publicBaseUrl,
    localFilesDocumentRoot: env.localFilesDocumentRoot,
    ...overrides,
  };
}

/** Sync step dependencies over `app`. */
export function buildSyncDeps(app: SyncApp, overrides: Partial<SyncSettings> = {}): SyncDeps {
  return {
    db: app.db,
    storageConfig: (s) => app.storageConfig(s),
    getProvider: (config, storageId) => app.getProvider(config, { storageId }),
    projectStorages: (projectId, role) => listProjectStorages(app.db, projectId, role),
    settings: syncSettingsOf(app.env, overrides),
    exporter: app.exporter,
    events: app.webhooks?.events,
  };
}

/** Dependencies of `requestSync` over `app` and a starter. */
export function buildRequestSyncDeps(app: Pick<SyncApp, 'db' | 'getProvider' | 'storageConfig'>, starter: SyncStarter): RequestSyncDeps {
  return {
    db: app.db,
    storageConfig: (s) => app.storageConfig(s),
    // Uncached: the stored config may just have changed; the connection check closes it after.
    getProvider: (config, storageId) => app.getProvider(config, { storageId, noCache: true }),
    starter,
  };
}
