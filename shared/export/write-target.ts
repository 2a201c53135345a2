/**
 * Writing one annotation to one target storage, and deleting it there, under the version guard
 * of the export link (shared/db/repo-export-links.ts):
 *
 * write: claim version v (refused when a newer version was claimed or the link is tombstoned) →
 * skip when v is already written → write the object → record it → if meanwhile a newer version
 * was claimed, the object may have overwritten that newer one, so re-read the annotation and
 * write again (bounded); if meanwhile it was deleted, remove the object again (when allowed).
 * Every writer that could have clobbered a newer write therefore repairs it, so the bucket
 * always ends at the newest saved version, whatever the order of records, retries and syncs.
 */
import type { StorageProvider } from '../storage/types';
import { buildExportDocument, serializeExportDocument, type ExportSource } from './content';
import type { ExportLink, ExportLinkStore } from '../db/repo-export-links';
import { exportObjectKey } from './key';
import type { ExportTarget } from './targets';

/** What happened to one annotation in one target. */
export type TargetOutcome = 'written' | 'up_to_date' | 'deleted' | 'skipped';

/** Rounds of write-then-repair under contention before giving up (the caller retries the record). */
export const MAX_WRITE_ROUNDS = 4;

export interface TargetWriteDeps {
  links: ExportLinkStore;
  provider: StorageProvider;
  /** Re-reads the annotation (strongly consistent); undefined when deleted. */
  reload: (annotationId: number) => Promise<ExportSource | undefined>;
  now: () => Date;
}

/**
 * Brings `target` to the newest saved version of the annotation, starting from `source`
 * (already freshly read by the caller). `force` rewrites even when the link says that version is
 * already written (export sync overwrites, as in Label Studio: the bucket may have been emptied
 * or the storage pointed elsewhere).
 * @returns `written`, `up_to_date` (that version is already there), `deleted` (annotation or link
 *   tombstoned: nothing written, or the stray write removed)
 * @throws the provider's StorageError when the target fails; Error after MAX_WRITE_ROUNDS of contention
 */
export async function writeAnnotationToTarget(
  deps: TargetWriteDeps,
  target: ExportTarget,
  source: ExportSource,
  opts: { force?: boolean } = {},
): Promise<TargetOutcome> {
  let src: ExportSource | undefined = source;
  let repair = opts.force === true;
  const annotationId = source.annotation.id;
  for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
    const v = src.annotation.version;
    const claim = await deps.links.claim(target.id, annotationId, v);
    if (!claim.granted) {
      if (!claim.current || claim.current.deleted_at) return 'deleted';
      // A newer version was claimed: our read is stale. Catch up with the table.
      src = await deps.reload(annotationId);
      if (!src) return 'deleted';
      if (src.annotation.version <= v) return 'up_to_date';
      continue;
    }
    if (!repair && (claim.previous?.written_version ?? -1) >= v) return 'up_to_date';

    const key = exportObjectKey(target.config, annotationId);
    const body = serializeExportDocument(buildExportDocument(src, deps.now()), target.config.type);
    await deps.provider.write(key, body, { contentType: 'application/json' });
    const after = await deps.links.markWritten(target.id, annotationId, v, key);

    if (after?.deleted_at) {
      // Deleted while we wrote: our write may have brought the object back.
      if (target.canDeleteObjects) await deps.provider.delete(key);
      return 'deleted';
    }
    if (after && after.version > v) {
      repair = true;
      src = await deps.reload(annotationId);
      if (!src) return 'deleted';
      continue;
    }
    return 'written';
  }
  throw new Error(`annotation ${annotationId} kept changing while it was exported to storage ${target.id}`);
}

/**
 * What a writer that wrote first and then had its commit refused (`ExportLinkStore.commit`) must do:
 * the annotation was deleted meanwhile → remove the object again (where deleting is allowed); a
 * newer version was claimed → its write may have landed before ours, so rewrite the newest.
 */
export async function afterRefusedCommit(
  deps: TargetWriteDeps,
  target: ExportTarget,
  key: string,
  current: ExportLink | undefined,
  annotationId: number,
): Promise<TargetOutcome> {
  if (!current || current.deleted_at) {
    if (target.canDeleteObjects) await deps.provider.delete(key);
    return 'deleted';
  }
  const src = await deps.reload(annotationId);
  if (!src) return 'deleted';
  return writeAnnotationToTarget(deps, target, src, { force: true });
}

/**
 * Deletes the annotation's object from `target` (only with `can_delete_objects`) and tombstones
 * the link in every case, so a late create/update record can never write it again.
 * @returns `deleted` when an object was removed, `skipped` when the target keeps its objects
 * @throws the provider's StorageError when the delete fails (the tombstone is already in place)
 */
export async function deleteAnnotationFromTarget(
  deps: Pick<TargetWriteDeps, 'links' | 'provider'>,
  target: ExportTarget,
  annotationId: number,
  version: number,
): Promise<TargetOutcome> {
  const before = await deps.links.tombstone(target.id, annotationId, version);
  if (!target.canDeleteObjects) return 'skipped';
  const current = exportObjectKey(target.config, annotationId);
  await deps.provider.delete(current);
  // The object may have been written under an earlier key format or prefix.
  if (before?.key && before.key !== current) await deps.provider.delete(before.key);
  return 'deleted';
}
