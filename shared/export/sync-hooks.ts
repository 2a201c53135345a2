/**
 * The export implementation of the sync state machine (`role: "export"`), in the shape
 * `shared/sync/export-hooks.ts` asks for: references are annotation ids (numbers), listed from the
 * project's annotation shards; a chunk of ids is written to the target the sync step loaded.
 */
import type { ExportSyncHooks } from '../sync/export-hooks';
import { exportAnnotationsToTarget, listProjectAnnotationIds } from './sync';
import { isTargetFailing } from './targets';

/** The export implementation of the sync steps; createApp hands it to them as `SyncDeps.exporter`. */
export const exportSyncHooks: ExportSyncHooks = {
  listExportItems(db, storage, opts) {
    return listProjectAnnotationIds(db, storage.projectId, { startToken: opts.startToken });
  },
  async exportChunk(db, storage, target, items) {
    const ids = items.map(Number).filter((n) => Number.isSafeInteger(n) && n > 0);
    const r = await exportAnnotationsToTarget(
      db,
      { id: storage.id, projectId: storage.projectId, config: target.config, canDeleteObjects: storage.fields?.can_delete_objects === true, item: storage },
      target.provider,
      ids,
    );
    return { written: r.written, failures: r.errors.map((e) => ({ key: `annotation ${e.annotationId}`, reason: e.reason })) };
  },
  targetFailing: isTargetFailing,
};
