/**
 * Link phases of an import chunk. Load: the link pages of an ordered chunk's key range plus the
 * tombstones in it, or a BatchGet of an unordered chunk's keys. Write (once the tasks exist): the
 * range's complete state as link pages, or one item per changed link.
 */
import type { ChunkItem } from '../../db/repo-chunks';
import type { Db } from '../../db/repo-common';
import { deleteLinks, deleteTombs, getLinks, putLinks, queryTombRange, type LinkItem } from '../../db/repo-links';
import { clearOverlays, isOverlay, overlayLink, type OverlayLink } from '../../db/repo-link-overlays';
import { loadPagedLinks, writePages } from '../../db/repo-link-pages';
import type { ImportChunkContext, StepLink } from './types';

/** The pages an ordered chunk reads and rewrites. */
export interface PagedRange {
  /** The link run this chunk writes to. */
  run: string;
  /** Page items this run already holds for the range (rewritten or deleted). */
  own: Awaited<ReturnType<typeof loadPagedLinks>>['own'];
  /** Keys that have a tombstone item. */
  tombKeys: Set<string>;
  /** Event sync's overlays in the range (folded into the pages this chunk writes, then cleared). */
  overlays: OverlayLink[];
}

/** Links of the chunk's objects (keyed by object key), and the paged range of an ordered chunk. */
export async function loadChunkLinks(db: Db, storageId: number, chunk: ChunkItem, liveRuns: string[], keys: string[]): Promise<{ links: Map<string, StepLink>; paged?: PagedRange }> {
  if (!chunk.ordered) return { links: await getLinks(db, storageId, keys) };
  const { links, ...paged } = await loadChunkPages(db, storageId, chunk, liveRuns);
  return { links, paged };
}

/**
 * Links of an ordered chunk's range: the live runs' pages, plus the storage's tombstones in the
 * range (task deletions write `TOMB#` items, never pages, so they cannot race a sync).
 */
async function loadChunkPages(db: Db, storageId: number, chunk: ChunkItem, live: string[]) {
  const run = chunk.run ?? `${chunk.jobId}~0`;
  const runs = live.includes(run) ? live : [...live, run];
  const [{ links, own }, tombs] = await Promise.all([
    loadPagedLinks(db, storageId, runs, chunk.from, chunk.to, run),
    queryTombRange(db, storageId, chunk.from, chunk.to),
  ]);
  const overlays = mergeTombRecords(storageId, links, tombs);
  return { links, own, run, tombKeys: new Set(tombs.keys()), overlays };
}

/**
 * Merges the tombstone partition's records of some keys into `links` (in place): an overlay
 * replaces the pages' link (its removal drops it), a plain tombstone adds its rows. Returns the
 * overlays met.
 */
export function mergeTombRecords(storageId: number, links: Map<string, StepLink>, tombs: Map<string, LinkItem>): OverlayLink[] {
  const overlays: OverlayLink[] = [];
  for (const [key, t] of tombs) {
    if (isOverlay(t)) {
      overlays.push(t);
      const l = overlayLink(t);
      if (l) links.set(key, l);
      else links.delete(key);
      continue;
    }
    if (!t.tomb?.size) continue;
    const link = links.get(key);
    if (link) link.tomb = new Set([...(link.tomb ?? []), ...t.tomb]);
    // A tombstone without a page entry: an empty link whose rows stay deleted.
    else links.set(key, { kind: 'link', storageId, key, single: false, rows: 0, idRanges: [], tomb: t.tomb, jobId: '', updated_at: '' });
  }
  return overlays;
}

/** True when event sync left overlays in (`from`, `to`] (the pages alone do not describe the range). */
export async function rangeHasOverlays(db: Db, storageId: number, from: string | null, to: string | null): Promise<boolean> {
  const tombs = await queryTombRange(db, storageId, from, to);
  return [...tombs.values()].some(isOverlay);
}

/** What the chunk changed: rewritten, touched and flagged links, and the gone objects. */
export interface LinkChanges {
  written: StepLink[];
  gone: StepLink[];
}

/** The range's complete state after the chunk (pure): what was there, with the chunk's changes. */
export function finalRange(before: Map<string, LinkItem>, changes: LinkChanges, deletions: ImportChunkContext['deletions']): LinkItem[] {
  const final = new Map<string, LinkItem>(before);
  for (const l of changes.written) final.set(l.key, l);
  if (deletions === 'remove') for (const l of changes.gone) final.delete(l.key);
  return [...final.values()];
}

/** Writes the links of the chunk, once its tasks exist. */
export async function writeChunkLinks(
  db: Db,
  chunk: ChunkItem,
  loaded: { links: Map<string, StepLink>; paged?: PagedRange },
  changes: LinkChanges,
  ctx: Pick<ImportChunkContext, 'storageId' | 'deletions'>,
  writeConcurrency: number,
): Promise<void> {
  const { paged } = loaded;
  const removeGone = ctx.deletions === 'remove';
  if (!paged) {
    await putLinks(db, changes.written, writeConcurrency);
    if (removeGone && changes.gone.length) await deleteLinks(db, ctx.storageId, changes.gone.map((l) => l.key));
    return;
  }
  const range = finalRange(loaded.links, changes, ctx.deletions);
  await writePages(db, ctx.storageId, paged.run, chunk.n, chunk.from, chunk.to, range, paged.own, writeConcurrency);
  // Tombstones of removed objects go with them.
  const tombsGone = removeGone ? changes.gone.filter((l) => paged.tombKeys.has(l.key)).map((l) => l.key) : [];
  if (tombsGone.length) await deleteTombs(db, ctx.storageId, tombsGone);
  // The pages now hold what the overlays said; removed objects' items went with their tombstones.
  const gone = new Set(tombsGone);
  await clearOverlays(db, ctx.storageId, paged.overlays.filter((o) => !gone.has(o.key)), writeConcurrency);
}
