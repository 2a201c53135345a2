/**
 * Tenancy of host directories: a directory belongs to the organization that first attached a
 * local-files storage (of either role) to it. Another organization may not attach a storage on
 * it, above it (which would list it) or inside it. The claims live in shared/db/repo-local-dirs.ts.
 * Claims are not released when storages are deleted: the directory stays with its organization.
 * A sync re-checks at its start (shared/sync/start-step.ts), for storages made before their claim.
 */
import type { Db } from '../db/repo-common';
import { deleteLocalDirClaim, foreignClaimsAround, putLocalDirClaim } from '../db/repo-local-dirs';
import { ValidationError } from '../errors';
import { backend } from '../storage/backends';
import { DIR_UNAVAILABLE } from '../storage/providers/local';
import type { StorageProvider, StorageType } from '../storage/types';

export { DIR_UNAVAILABLE };

/** The canonical directory a provider of `type` serves from the host, or undefined for other types. */
export function hostDirOf(type: StorageType, provider: StorageProvider): string | undefined {
  return backend(type)?.capabilities?.servesHostFiles ? provider.bucket : undefined;
}

/** @throws ValidationError on `path` when another organization owns `realDir`, a parent or a child of it */
export async function assertDirAvailable(db: Db, realDir: string, orgId: string): Promise<void> {
  if ((await foreignClaimsAround(db, realDir, orgId)).length) throw ValidationError.field('path', DIR_UNAVAILABLE);
}

/**
 * Records `orgId` as the owner of `realDir`. The conditional put settles a race for the same
 * directory; a race between a parent and a child of it is settled by checking again after the
 * put and withdrawing a new claim that meets another organization's (both may then be refused,
 * never both admitted).
 * @throws ValidationError on `path` as assertDirAvailable
 */
export async function claimDir(db: Db, realDir: string, orgId: string): Promise<void> {
  await assertDirAvailable(db, realDir, orgId);
  const outcome = await putLocalDirClaim(db, realDir, orgId);
  if (outcome === 'taken') throw ValidationError.field('path', DIR_UNAVAILABLE);
  if ((await foreignClaimsAround(db, realDir, orgId)).length) {
    if (outcome === 'created') await deleteLocalDirClaim(db, realDir, orgId);
    throw ValidationError.field('path', DIR_UNAVAILABLE);
  }
}
