/**
 * Export sync (POST /api/storages/export/<type>/<id>/sync): every annotation of the project to one
 * target, run by the sync state machine with `role: "export"` through the hooks of
 * `shared/sync/export-hooks.ts` (see `sync-hooks.ts`). The lister walks the project's 16
 * annotation shards (gsi2 `PROJECT#<p>#ANNOTATIONS#<s>`, sort key = zero-padded id) as pages of
 * ids with a resumable token; the chunk writer writes a chunk of ids with bounded concurrency.
 */
import { queryProjectAnnotationIds } from '../db/repo-annotations';
import { encodeCursor, parseCursor, type Db } from '../db/repo-common';
import { PROJECT_SHARDS } from '../db/schema';
import { ValidationError } from '../errors';
import { mapLimit } from '../storage/common';
import type { StorageProvider } from '../storage/types';
import { ExportLinkStore } from '../db/repo-export-links';
import { ExportSourceLoader } from './source';
import { clearTargetFailure, exportFailureReason, reportTargetFailure, type ExportTarget } from './targets';
import { afterRefusedCommit } from './write-target';
import { buildExportDocument, serializeExportDocument } from './content';
import { exportObjectKey } from './key';

/** Annotations per listed page (one gsi2 query each); the sync's chunk cutter regroups them. */
export const EXPORT_LIST_PAGE = 1000;

interface Cursor {
  shard: number;
  after: number;
}

function decodeToken(token: string | null | undefined): Cursor {
  if (!token) return { shard: 0, after: 0 };
  const c = parseCursor(token) as Partial<Cursor> | undefined;
  if (c && Number.isInteger(c.shard) && c.shard! >= 0 && c.shard! < PROJECT_SHARDS && Number.isInteger(c.after) && c.after! >= 0) return { shard: c.shard!, after: c.after! };
  throw ValidationError.field('token', 'Invalid export listing token.');
}

const encodeToken = (c: Cursor): string => encodeCursor(c);

/** One page of the walk: annotation ids, and the token resuming right after them (none at the end). */
export interface ExportIdPage {
  items: number[];
  nextToken?: string;
}

/**
 * Walks the project's 16 annotation shards (gsi2, sort key = zero-padded id) in order, reading ids
 * only, `pageSize` per query, resuming after `startToken`. Each page's `nextToken` resumes exactly
 * after its last id, so a listing cut at any page boundary lists every annotation once. Pages are
 * lazy: the caller stops pulling at its deadline.
 * @throws ValidationError for a token this function did not make
 */
export async function* listProjectAnnotationIds(
  db: Db,
  projectId: number,
  opts: { startToken?: string; pageSize?: number } = {},
): AsyncGenerator<ExportIdPage> {
  const pageSize = Math.max(1, Math.min(opts.pageSize ?? EXPORT_LIST_PAGE, 1000));
  let cur = decodeToken(opts.startToken);
  while (cur.shard < PROJECT_SHARDS) {
    const { ids, more } = await queryProjectAnnotationIds(db, projectId, cur.shard, cur.after, pageSize);
    if (ids.length) cur = { shard: cur.shard, after: ids[ids.length - 1] };
    if (!more) cur = { shard: cur.shard + 1, after: 0 };
    const last = cur.shard >= PROJECT_SHARDS;
    if (ids.length || last) yield { items: ids, nextToken: last ? undefined : encodeToken(cur) };
  }
}

/** Result of one chunk. */
export interface ExportChunkResult {
  /** Annotations found in the chunk (deleted ones since listing are not counted). */
  annotations: number;
  written: number;
  upToDate: number;
  deleted: number;
  failed: number;
  /** Per annotation, readable and secret-free. */
  errors: { annotationId: number; reason: string }[];
}

/** Codes that mean the target itself is unusable: stop the chunk early instead of timing out per item. */
const TARGET_DOWN_CODES = new Set(['unreachable', 'access_denied', 'not_found', 'invalid', 'forbidden_endpoint']);

/**
 * Writes the given annotations to one target, overwriting what is there (Label Studio's export
 * sync overwrites), under the same version guard as the stream: a newer version written meanwhile
 * is never replaced by an older one, a deleted annotation is never written back (ids deleted since
 * listing are simply skipped). At most `concurrency` (default 16) writes in flight; the export
 * links are recorded after the writes, 100 per transaction, and refused ones repaired one by one.
 * When the target itself is unusable (down, credentials refused, bucket missing) the rest of the
 * chunk fails fast with that reason, which is also recorded on the storage. Never throws for
 * per-item problems.
 */
export async function exportAnnotationsToTarget(
  db: Db,
  target: ExportTarget,
  provider: StorageProvider,
  annotationIds: readonly number[],
  opts: { links?: ExportLinkStore; concurrency?: number; now?: () => Date } = {},
): Promise<ExportChunkResult> {
  const loader = new ExportSourceLoader(db);
  const sources = await loader.loadMany(annotationIds);
  const links = opts.links ?? new ExportLinkStore(db.doc, db.table);
  const now = opts.now ?? (() => new Date());
  const result: ExportChunkResult = { annotations: sources.size, written: 0, upToDate: 0, deleted: 0, failed: 0, errors: [] };
  let down: unknown;
  const fail = (id: number, e: unknown) => {
    result.failed++;
    const { code, reason } = exportFailureReason(e);
    result.errors.push({ annotationId: id, reason });
    if (TARGET_DOWN_CODES.has(code)) down ??= e;
  };
  // Write every object first, then record them in transactions of 100 (see ExportLinkStore.commit:
  // writing before committing is safe against concurrent stream writers, which claim first).
  const written: { annotationId: number; version: number; key: string }[] = [];
  await mapLimit([...sources.values()], opts.concurrency ?? 16, async (src) => {
    const id = src.annotation.id;
    try {
      if (down) throw down;
      const key = exportObjectKey(target.config, id);
      await provider.write(key, serializeExportDocument(buildExportDocument(src, now()), target.config.type), { contentType: 'application/json' });
      written.push({ annotationId: id, version: src.annotation.version, key });
    } catch (e) {
      fail(id, e);
    }
  });
  const refused = await links.commitMany(target.id, written);
  result.written = written.length - refused.size;
  const deps = { links, provider, reload: (x: number) => loader.load(x), now };
  await mapLimit([...refused], opts.concurrency ?? 16, async ([id, current]) => {
    try {
      const o = await afterRefusedCommit(deps, target, exportObjectKey(target.config, id), current, id);
      if (o === 'written') result.written++;
      else if (o === 'up_to_date') result.upToDate++;
      else result.deleted++;
    } catch (e) {
      fail(id, e);
    }
  });
  if (down) await reportTargetFailure(db, target, down);
  else if (result.written) await clearTargetFailure(db, target);
  return result;
}
