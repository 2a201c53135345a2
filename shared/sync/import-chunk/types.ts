/**
 * What the phases of an import chunk pass each other (shared/sync/import-chunk/import-chunk.ts is
 * the orchestrator).
 */
import type { ChunkEntry } from '../../db/repo-chunks';
import type { JobCounters, SyncDeletions } from '../../db/repo-jobs';
import type { LinkItem } from '../../db/repo-links';
import type { SyncFailure } from '../../db/repo-sync-failures';
import type { ParsedRow } from '../parse-tasks';

/** Link fields the chunk step adds (who wrote it and what that attempt did, for exact retry counts). */
export type StepLink = LinkItem & { chunk?: number; createdRows?: number; updatedRows?: number };

/** Counters of one chunk, every one present. */
export type Counters = { [K in keyof JobCounters]: number };

/** All-zero counters. */
export const zeroCounters = (): Counters => ({
  listed: 0, processed: 0, created: 0, updated: 0, removed: 0, flagged: 0, flagged_annotated: 0, unchanged: 0, failed: 0, skipped_export: 0, annotations: 0, chunks: 0, chunks_unchanged: 0,
});

/** Adds `delta` to `into` (in place) and returns `into`. */
export function addCounters(into: Counters, delta: Partial<Counters>): Counters {
  for (const [k, v] of Object.entries(delta) as [keyof Counters, number][]) into[k] += v ?? 0;
  return into;
}

/** The fixed facts of one import chunk every phase reads. */
export interface ImportChunkContext {
  jobId: string;
  /** Chunk number. */
  n: number;
  storageId: number;
  orgId: string;
  projectId: number;
  /** The listing is in key order (range diffs find deleted objects) rather than mark-and-sweep. */
  ordered: boolean;
  deletions: SyncDeletions;
  /** "remove" also deletes tasks with annotations or predictions (`sync_deletions_remove_annotated`). */
  removeAnnotated: boolean;
  /** Blob mode (`use_blob_urls`): one task per object pointing at it, nothing read. */
  blob: boolean;
  /** The project's first data key (blob-mode tasks put the object's URI there). */
  dataKey: string;
  /**
   * Event sync (shared/sync/object-events/): the entries are notified objects, not a listing, so
   * nothing is marked for a sweep and removals come as known-gone links.
   */
  events?: boolean;
}

/** An object to (re)write: its listed entry, its link if it had one, and its parsed rows. */
export interface Work {
  e: ChunkEntry;
  link?: StepLink;
  rows: ParsedRow[];
  hash?: string;
}

/** An entry that must be read (new, or its version changed), with its link if any. */
export interface ToRead {
  e: ChunkEntry;
  link?: StepLink;
}

export type { SyncFailure };

/** The link's record of an earlier job touched by this chunk without rewriting its tasks (mark phase). */
export function touch(link: StepLink, ctx: Pick<ImportChunkContext, 'jobId' | 'n'>, extra: Partial<StepLink> = {}): StepLink {
  return { ...link, ...extra, jobId: ctx.jobId, chunk: ctx.n, createdRows: 0, updatedRows: 0 };
}

/**
 * Rows of the object that produced no task (a bad line, a file that did not parse, a row that
 * changed mid-sync). Such an object is read again by every sync, even when unchanged, so its
 * failure stays reported instead of the storage turning `completed` with the error forgotten.
 */
export function hasFailedRows(link: StepLink): boolean {
  return (link.failed ?? 0) > 0;
}

/** Mark-and-sweep (unordered listing acting on deletions): every link of a listed object must be touched. */
export function sweeps(ctx: Pick<ImportChunkContext, 'ordered' | 'deletions' | 'events'>): boolean {
  return !ctx.events && !ctx.ordered && ctx.deletions !== 'keep';
}
