/**
 * The whole import state of one storage, across the repositories that hold its parts.
 */
import { deleteSyncSummaries } from './repo-digests';
import { deleteAllPages } from './repo-link-pages';
import { deleteLinksOfStorage } from './repo-links';
import type { Db } from './repo-common';

/**
 * Deletes a storage's import state: link pages, links (with tombstones) and sync summaries, so
 * the next sync sees every object as new. Used for a cancelled or deleted storage, and when all
 * tasks of its project are deleted.
 */
export async function dropImportState(db: Db, storageId: number): Promise<void> {
  await deleteAllPages(db, storageId);
  await deleteLinksOfStorage(db, storageId);
  await deleteSyncSummaries(db, storageId);
}
