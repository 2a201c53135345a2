/**
 * What a sync listing lists, one source per role behind one interface: an import lists the
 * storage provider's objects (in key order when the provider is ordered; keys under a target
 * storage's prefix skipped), an export lists the export implementation's annotation pages.
 */
import type { ChunkEntry, ChunkItem } from '../../db/repo-chunks';
import { getJob, nextListEpoch } from '../../db/repo-jobs';
import { addRun } from '../../db/repo-link-pages';
import { getProject } from '../../db/repo-projects';
import { compareUtf8 } from '../../storage/common';
import type { ListOptions, ListPage, ObjectEntry } from '../../storage/types';
import type { SyncDeps } from '../deps';
import { exportPrefixes, underAny } from '../export-prefix';
import { digestsApply, type DigestMode } from '../import-chunk/digest';
import type { LiveJob } from '../job-context';
import { keyBoundary } from './chunk-cutter';
import type { ListCursor } from './list-cursor';

/** A chunk as the listing stores it. */
export type NewChunk = Omit<ChunkItem, 'kind'>;

/** Chunks whose digest the previous clean job recorded are skipped: which job, in which mode. */
export interface DigestTrust {
  job: string;
  mode: DigestMode;
}

/** One role's listing. `T` is what a chunk holds (object entries or export references). */
export interface ListingSource<T> {
  /** Listed in key order: chunks carry key ranges and the last one is open-ended. */
  readonly ordered: boolean;
  /** A step that ends mid-listing carries its partial chunk to the next (content-defined cuts). */
  readonly carries: boolean;
  /** The link run of an ordered listing. */
  readonly run?: string;
  /** Set when unchanged chunks may be recognised by digest. */
  readonly trust?: DigestTrust;
  /** Listed entries left out of the chunks (under a target's prefix). */
  readonly skipped: number;
  /** Pages from `startToken`, each with the token resuming after it (none on the last page). */
  pages(startToken?: string): AsyncIterable<{ nextToken?: string }>;
  /** Set when the provider lists key ranges by seeking: the listing may be partitioned. */
  listRange?: (o: ListOptions) => AsyncIterable<ListPage>;
  /** The entries of a page that go into chunks. @throws Error when an ordered listing breaks key order */
  accept(page: unknown): T[];
  /** Entries carried over from the previous step (they precede this step's first page). */
  carried(entries: T[]): void;
  /** Bytes an entry takes in a chunk item. */
  sizeOf(t: T): number;
  /** Content-defined chunk boundary, if cuts are content-defined. */
  boundary?: (t: T) => boolean;
  /** The chunk item of a group of entries. */
  chunk(group: T[], at: { jobId: string; n: number; from: string | null }): NewChunk;
  /** The empty open-ended last chunk of an ordered listing. */
  emptyLast(at: { jobId: string; n: number; from: string | null }): NewChunk;
}

const toEntry = (o: ObjectEntry): ChunkEntry => ({
  k: o.key,
  ...(o.size !== undefined ? { s: o.size } : {}),
  ...(o.etag ? { e: o.etag } : {}),
  ...(o.lastModified ? { m: o.lastModified.getTime() } : {}),
});

/** The import listing of a live job (registers a new link run when an ordered listing starts). */
export async function importListing(deps: SyncDeps, live: LiveJob, jobId: string, cursor: ListCursor): Promise<ListingSource<ChunkEntry>> {
  const ordered = live.provider.ordered;
  // Every listing from the start is a new link run: a job listed again (resumed from its first
  // state) may cut different ranges, and the pages of one run must stay disjoint.
  const run = ordered ? (cursor.linkRun ?? (await newRun(deps, live.storage.id, jobId))) : undefined;
  const targets = await deps.projectStorages(live.storage.projectId, 'export');
  const skip = underAny(exportPrefixes(live.storage, targets));
  const trust = await digestTrust(deps, live, jobId, ordered);
  let skipped = 0;
  let prevKey: string | undefined;
  const rangeChunk = (entries: ChunkEntry[], at: { jobId: string; n: number; from: string | null }, to: string | null): NewChunk => ({
    jobId: at.jobId, n: at.n, entries, from: at.from, to, ordered, ...(run ? { run } : {}),
  });
  return {
    ordered,
    carries: true,
    run,
    trust,
    get skipped() {
      return skipped;
    },
    pages: (startToken) => live.provider.list({ startToken }),
    ...(ordered && live.provider.seeks ? { listRange: (o: ListOptions) => live.provider.list(o) } : {}),
    accept(page) {
      const out: ChunkEntry[] = [];
      for (const o of (page as { entries?: ObjectEntry[] }).entries ?? []) {
        if (ordered && prevKey !== undefined && compareUtf8(prevKey, o.key) >= 0) {
          // Range diffs rely on the order; a provider breaking it must not delete anything.
          throw new Error(`the storage listed keys out of order ('${o.key}' after '${prevKey}')`);
        }
        prevKey = o.key;
        if (skip(o.key)) skipped++;
        else out.push(toEntry(o));
      }
      return out;
    },
    carried(entries) {
      if (entries.length) prevKey = entries[entries.length - 1].k;
    },
    sizeOf: (e) => Buffer.byteLength(e.k) + 40,
    boundary: keyBoundary(deps.settings.chunkSize),
    chunk: (group, at) => rangeChunk(group, at, group[group.length - 1].k),
    emptyLast: (at) => rangeChunk([], at, null),
  };
}

/** Registers a new link run for a listing that starts from the beginning (`<jobId>~<epoch>`). */
async function newRun(deps: SyncDeps, storageId: number, jobId: string): Promise<string> {
  const run = `${jobId}~${await nextListEpoch(deps.db, jobId)}`;
  await addRun(deps.db, storageId, run);
  return run;
}

/**
 * Unchanged chunks are recognised by the listing already (same digest as the previous clean
 * job's): they are neither stored nor handed to a chunk Lambda, so an unchanged re-sync costs the
 * listing.
 */
async function digestTrust(deps: SyncDeps, live: LiveJob, jobId: string, ordered: boolean): Promise<DigestTrust | undefined> {
  const job = await getJob(deps.db, jobId);
  if (!job?.trust_digests_of || !digestsApply(ordered, job.sync_deletions)) return undefined;
  const project = await getProject(deps.db, live.storage.projectId);
  if (!project) return undefined;
  return {
    job: job.trust_digests_of,
    mode: { blob: !!live.config.use_blob_urls, dataKey: project.data_keys?.[0] ?? '$undefined$', deletions: job.sync_deletions },
  };
}

/** The export listing of a live job: the export implementation's reference pages, cut by count. */
export function exportListing(deps: SyncDeps, live: LiveJob): ListingSource<unknown> {
  return {
    ordered: false,
    carries: false,
    skipped: 0,
    pages: (startToken) => deps.exporter.listExportItems(deps.db, live.storage, { startToken }),
    accept: (page) => (page as { items?: unknown[] }).items ?? [],
    carried: () => undefined,
    sizeOf: (e) => JSON.stringify(e).length,
    chunk: (group, at) => ({ jobId: at.jobId, n: at.n, entries: [], items: group, from: null, to: null, ordered: false }),
    emptyLast: (at) => ({ jobId: at.jobId, n: at.n, entries: [], items: [], from: null, to: null, ordered: false }),
  };
}
