/**
 * Export dependencies over an app's parts (createApp builds them once per app; tests pass their
 * own parts): repositories on the app's table, its provider factory and the storage config loader.
 */
import type { AppContext } from '../context';
import { listProjectStorages } from '../db/repo-storages';
import type { ExportDeps } from './deps';
import { ExportLinkStore } from '../db/repo-export-links';
import { toExportTarget, type StorageConfigLoader } from './targets';

/** Builds the export dependencies. `loadConfig` decrypts a storage's secrets into its config. */
export function exportDepsFromContext(ctx: Pick<AppContext, 'db' | 'getProvider'> & Partial<Pick<AppContext, 'webhooks'>>, loadConfig: StorageConfigLoader): ExportDeps {
  const { db } = ctx;
  return {
    db,
    links: new ExportLinkStore(db.doc, db.table),
    targets: async (projectId) =>
      Promise.all((await listProjectStorages(db, projectId, 'export')).map((s) => toExportTarget(s, loadConfig))),
    provider: (config) => ctx.getProvider(config),
    events: ctx.webhooks?.events,
  };
}
