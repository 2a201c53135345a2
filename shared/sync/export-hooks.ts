/**
 * The export side of the sync state machine (`role: "export"`): its interface, implemented in
 * shared/export/sync-hooks.ts and handed to the sync steps as `SyncDeps.exporter` by createApp,
 * so the machine, the chunk bookkeeping and the status handling are shared with import. The lister
 * walks what must be exported (e.g. the project's annotation shards) as pages of small JSON
 * references; chunks of those references are stored like import chunks and handed to
 * `exportChunk` by the chunk step.
 */
import type { StorageItem } from '../db/items';
import type { Db } from '../db/repo-common';
import type { StorageConfig, StorageProvider } from '../storage/types';

/** One page of export references; `nextToken` resumes after it (undefined on the last page). */
export interface ExportPage {
  /** JSON-serialisable references (e.g. `{annotationId}`); each should stay well under 1 KB. */
  items: unknown[];
  nextToken?: string;
}

export interface ExportSyncHooks {
  /** Pages of references to export for `storage` (a target storage), resuming after `startToken`. */
  listExportItems(db: Db, storage: StorageItem, opts: { startToken?: string }): AsyncIterable<ExportPage>;
  /**
   * Exports one chunk of references to the target. Idempotent (a retried chunk rewrites the same
   * objects). Per-item failures are returned, not thrown; throwing fails the chunk (it is retried).
   */
  exportChunk(
    db: Db,
    storage: StorageItem,
    target: { config: StorageConfig; provider: StorageProvider },
    items: unknown[],
  ): Promise<{ written: number; failures: { key: string; reason: string }[] }>;
  /** True while the target's exports fail (recorded by the export side); such a sync ends `failed`. */
  targetFailing(storage: StorageItem): boolean;
}
