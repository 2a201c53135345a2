/**
 * Classify phase of an import chunk (pure): each listed entry against its link — new, changed
 * (version differs, or its last write left failed rows), unchanged (neither read nor written), or
 * already handled by this job — and, for ordered listings acting on deletions, the links of the
 * range whose object is no longer listed.
 */
import type { ChunkEntry } from '../../db/repo-chunks';
import type { LinkItem } from '../../db/repo-links';
import { hasFailedRows, sweeps, touch, type Counters, type ImportChunkContext, type StepLink, type ToRead } from './types';

/** True when the listed entry has the version the link recorded. */
export function sameVersion(link: Pick<LinkItem, 'etag' | 'size' | 'mtime'>, e: ChunkEntry): boolean {
  if (link.etag !== undefined && e.e !== undefined) return link.etag === e.e && (link.size === undefined || e.s === undefined || link.size === e.s);
  if (link.mtime !== undefined && e.m !== undefined) return link.mtime === e.m && link.size === e.s;
  return false;
}

export interface Classified {
  /** New and changed entries, new ones first (both are read). */
  toRead: ToRead[];
  /** Unchanged links of an earlier job that this job must mark (mark-and-sweep). */
  touched: StepLink[];
  /** Links of the range whose object was not listed (ordered listings acting on deletions). */
  gone: StepLink[];
  /** What an earlier attempt of this chunk did, and the unchanged objects. */
  counters: Pick<Counters, 'created' | 'updated' | 'unchanged'>;
}

/** Classifies deduplicated `entries` against `links` (keyed by object key). */
export function classifyEntries(entries: ChunkEntry[], links: Map<string, StepLink>, ctx: ImportChunkContext): Classified {
  const fresh: ToRead[] = [];
  const changed: ToRead[] = [];
  const touched: StepLink[] = [];
  const counters = { created: 0, updated: 0, unchanged: 0 };
  for (const e of entries) {
    const link = links.get(e.k);
    if (!link) fresh.push({ e });
    else if (link.jobId === ctx.jobId) {
      // Written by this job already: an earlier attempt of this chunk (count what it did) or a
      // key an unordered listing returned twice (nothing to do).
      if (link.chunk === ctx.n) {
        counters.created += link.createdRows ?? 0;
        counters.updated += link.updatedRows ?? 0;
      }
    } else if (sameVersion(link, e) && link.object_exists !== false && !hasFailedRows(link)) {
      counters.unchanged++;
      if (sweeps(ctx)) touched.push(touch(link, ctx));
    } else changed.push({ e, link });
  }
  const seen = new Set(entries.map((e) => e.k));
  const gone = ctx.ordered && ctx.deletions !== 'keep'
    ? [...links.values()].filter((l) => !seen.has(l.key) && l.jobId !== ctx.jobId && !(ctx.deletions === 'flag' && l.object_exists === false))
    : [];
  return { toRead: [...fresh, ...changed], touched, gone, counters };
}
