/**
 * The sync dependencies of this process, built once from the app context (`shared/context.ts`)
 * and the environment: table, decrypted storage configs, the provider registry and the tuning
 * knobs (`LABELSYNC_SYNC_CHUNK_SIZE`, `LABELSYNC_MAX_TASK_FILE_BYTES`).
 */
import { getContext, type AppContext } from '../context';
import { listProjectStorages } from '../db/repo-storages';
import { loadStorageConfig } from '../api/storages';
import { getSyncStarter } from './starter';
import { getExportSyncHooks } from './export-hooks';
import type { RequestSyncDeps } from './request-sync';
import { DEFAULT_SYNC_SETTINGS, type SyncDeps, type SyncSettings } from './deps';

let cached: { app: AppContext; deps: SyncDeps } | undefined;

/** Sync dependencies over the current app context (rebuilt when the context changes). */
export function syncDeps(overrides: Partial<SyncSettings> = {}): SyncDeps {
  const app = getContext();
  if (cached && cached.app === app && !Object.keys(overrides).length) return cached.deps;
  const deps: SyncDeps = {
    db: app.db,
    storageConfig: (s) => loadStorageConfig(s, app.secretBox),
    getProvider: (config, storageId) => app.getProvider(config, { storageId }),
    projectStorages: (projectId, role) => listProjectStorages(app.db, projectId, role),
    get exporter() {
      return getExportSyncHooks();
    },
    settings: {
      ...DEFAULT_SYNC_SETTINGS,
      chunkSize: app.env.syncChunkSize,
      firstStepChunks: 4 * app.env.syncConcurrency,
      writeConcurrency: app.env.syncWriteConcurrency,
      maxTaskFileBytes: app.env.maxTaskFileBytes,
      ...overrides,
    },
  };
  if (!Object.keys(overrides).length) cached = { app, deps };
  return deps;
}

/** Dependencies of `requestSync` over the current app context. */
export function requestSyncDeps(): RequestSyncDeps {
  const app = getContext();
  return {
    db: app.db,
    storageConfig: (s) => loadStorageConfig(s, app.secretBox),
    getProvider: (config, storageId) => app.getProvider(config, { storageId, noCache: true }),
    starter: getSyncStarter(),
  };
}
