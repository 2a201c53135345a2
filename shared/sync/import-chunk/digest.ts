/**
 * Digest phase of an import chunk: what the chunk stands for (its range, keys, versions and how
 * they become tasks), hashed. A chunk whose digest the previous clean job recorded is skipped
 * whole; a chunk that left its range exactly as listed records its digest for the next job.
 */
import { createHash } from 'node:crypto';
import type { ChunkEntry, ChunkItem } from '../../db/repo-chunks';
import type { SyncDeletions } from '../../db/repo-jobs';
import type { ImportChunkContext } from './types';

/** How a chunk's objects become tasks: part of its digest. */
export interface DigestMode {
  blob: boolean;
  dataKey: string;
  deletions: SyncDeletions;
}

/** Digest of a chunk (pure). */
export function chunkDigest(chunk: Pick<ChunkItem, 'from' | 'to' | 'ordered'>, entries: ChunkEntry[], mode: DigestMode): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([chunk.ordered, chunk.ordered ? chunk.from : null, chunk.ordered ? chunk.to : null, mode.blob, mode.dataKey, mode.deletions]));
  const sorted = chunk.ordered ? entries : [...entries].sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  // One update of the joined lines (the same bytes as one update per line, at a fraction of the calls).
  h.update(sorted.map((e) => `\n${e.k}\u0000${e.e ?? ''}\u0000${e.s ?? ''}\u0000${e.m ?? ''}`).join(''));
  return h.digest('base64url');
}

/**
 * True when a chunk of this listing may ever be skipped by digest: unordered listings acting on
 * deletions need every link touched (mark-and-sweep), so they never skip.
 */
export function digestsApply(ordered: boolean, deletions: SyncDeletions): boolean {
  return ordered || deletions === 'keep';
}

/** The digest of an import chunk, or undefined when it may not be skipped (pure). */
export function importChunkDigest(chunk: Pick<ChunkItem, 'from' | 'to' | 'ordered'>, entries: ChunkEntry[], ctx: ImportChunkContext): string | undefined {
  if (!digestsApply(ctx.ordered, ctx.deletions)) return undefined;
  return chunkDigest(chunk, entries, { blob: ctx.blob, dataKey: ctx.dataKey, deletions: ctx.deletions });
}

/** The entries of a chunk without repeated keys (first wins). */
export function dedupe(entries: ChunkEntry[]): ChunkEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => (seen.has(e.k) ? false : (seen.add(e.k), true)));
}
