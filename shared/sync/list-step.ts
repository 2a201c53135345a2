/**
 * One time-boxed listing step of a sync job: lists from the continuation token until the step's
 * deadline (or its chunk budget), cuts what it listed into chunks stored in the table, and returns
 * only references to them plus the token to resume from. Steps end on page boundaries; the entries
 * after a step's last chunk cut are stored as its carry and start the next step's first chunk, so
 * every listed entry lands in exactly one chunk, a retried step rewrites the same chunk numbers, and
 * chunk cuts depend on the keys only (never on where a step happened to end).
 *
 * Chunk ranges (ordered providers): chunk n covers the keys after the previous chunk's last key up
 * to its own last key; the listing's final chunk is open-ended (possibly empty), so together the
 * chunks of a complete listing cover the whole key space once — the chunk step diffs each range
 * against the stored links to find deleted objects.
 *
 * What is listed depends on the role (shared/sync/listing/listing-source.ts); storing the chunks,
 * pipelined with the listing, is the chunk writer's (shared/sync/listing/chunk-writer.ts).
 */
import { getCarry, putCarry, type ChunkEntry } from '../db/repo-chunks';
import type { Db } from '../db/repo-common';
import { addListingCounts, getJob, publishListed, publishProgress, type ListingCounts } from '../db/repo-jobs';
import type { ListPage } from '../storage/types';
import type { SyncDeps, SyncSettings } from './deps';
import { loadLiveJob } from './job-context';
import { MAX_STEP_CHUNK_BUDGET } from './list-step-limit';
import { ChunkCutter } from './listing/chunk-cutter';
import { ChunkWriter, type ChunkRef } from './listing/chunk-writer';
import { listedProgress, type ListedProgress } from './listing/listed-progress';
import { decodeListCursor, encodeListCursor, type ListCursor } from './listing/list-cursor';
import { openPager } from './listing/pager';
import { exportListing, importListing, type ListingSource } from './listing/listing-source';

export type { ChunkRef } from './listing/chunk-writer';

export interface ListStepInput {
  storageId: number;
  jobId: string;
  role: 'import' | 'export';
  /** Token returned by the previous step; null for the first. */
  token: string | null;
}

export interface ListStepResult {
  /** Resume token; null once the listing is complete. */
  token: string | null;
  done: boolean;
  chunks: ChunkRef[];
  /** Entries listed by this step. */
  listed: number;
}

/** When a step ends: its soft and hard time boxes (epoch ms) and its chunk budget. */
interface StepBounds {
  softEnd: number;
  hardEnd: number;
  chunkBudget: number;
}

/**
 * Time boxes grow from firstStepMs, doubling up to listStepMs: a slow listing hands its first
 * chunks over within a second, and the next steps stay short enough that the writers do not sit
 * idle behind one long listing step. A step with nothing to hand over yet (every chunk skipped by
 * digest) keeps listing up to listStepMs: ending it would only add a step. The first step hands
 * over its first chunks early: writing starts while the listing goes on.
 */
function stepBounds(s: SyncSettings, step: number, deadline: number): StepBounds {
  const started = Date.now();
  return {
    softEnd: Math.min(deadline, started + Math.min(s.listStepMs, s.firstStepMs * 2 ** Math.min(step, 30))),
    hardEnd: Math.min(deadline, started + s.listStepMs),
    chunkBudget: Math.min(MAX_STEP_CHUNK_BUDGET, step === 0 ? Math.max(1, s.firstStepChunks) : s.maxChunksPerStep),
  };
}

/**
 * Runs one listing step until `deadline` (epoch ms).
 * @throws StorageError when the provider fails (the state machine fails the job with it)
 */
export async function listStep(deps: SyncDeps, input: ListStepInput, deadline: number): Promise<ListStepResult> {
  const live = await loadLiveJob(deps, input.storageId, input.jobId);
  if ('stop' in live) return { token: null, done: true, chunks: [], listed: 0 };
  const cursor = decodeListCursor(input.token);
  const bounds = stepBounds(deps.settings, cursor.step, deadline);
  const [source, job] = await Promise.all([
    input.role === 'export' ? exportListing(deps, live) : (importListing(deps, live, input.jobId, cursor) as Promise<ListingSource<unknown>>),
    getJob(deps.db, input.jobId),
  ]);
  const progress = listedProgress(deps.db, input.storageId, job, cursor.step);
  return runListing(deps, { storageId: input.storageId, jobId: input.jobId, progress }, source, cursor, bounds);
}

/** Lists pages of `source` from `cursor` within `bounds`, storing the chunks it cuts. */
async function runListing<T>(deps: SyncDeps, job: { storageId: number; jobId: string; progress: ListedProgress }, source: ListingSource<T>, cursor: ListCursor, bounds: StepBounds): Promise<ListStepResult> {
  const { jobId } = job;
  const s = deps.settings;
  const cutter = new ChunkCutter<T>(s.chunkSize, s.maxChunkBytes, source.sizeOf, source.boundary);
  const writer = new ChunkWriter(deps.db, job.storageId, jobId, source.trust);
  let from = cursor.rangeStart;
  let n = cursor.nextChunk;
  // Numbers the chunks the cutter completed, gives them their ranges and passes them to the writer.
  const handOver = async (final: boolean) => {
    for (const group of cutter.full.splice(0)) {
      const c = source.chunk(group, { jobId, n: n++, from });
      from = c.to;
      writer.add(c);
    }
    await writer.flush(final);
  };
  // The previous step's entries after its last cut start this step's first chunk (counted there).
  if (cursor.hasCarry) {
    const carried = (await getCarry(deps.db, jobId, cursor.step - 1)) as T[];
    carried.forEach((e) => cutter.push(e));
    source.carried(carried);
  }

  let listed = 0;
  let hardLinks = 0;
  let stopping = false;
  let hardStopped = false;
  // The source lists ahead (the next page, or every partition's) while this page is cut and stored.
  const pager = openPager(source, cursor, s);
  try {
    for await (const page of pager.pages) {
      const entries = source.accept(page);
      entries.forEach((e) => cutter.push(e));
      listed += entries.length;
      job.progress.tick(listed);
      hardLinks += (page as ListPage).hardLinksSkipped ?? 0;
      await handOver(false);
      const now = Date.now();
      if (stopping) {
        // Past the hard end a partitioned listing stops filling its gaps and ends at the first.
        if (now >= bounds.hardEnd && !hardStopped) {
          hardStopped = true;
          pager.stop();
        }
        continue;
      }
      const handed = writer.handedOver();
      if (now >= bounds.hardEnd || (now >= bounds.softEnd && handed > 0) || handed >= bounds.chunkBudget) {
        // A partitioned listing still hands over the pages its listers already hold.
        stopping = true;
        if (!pager.stop()) break;
      }
    }
  } catch (e) {
    await Promise.all([writer.settle(), job.progress.settle(), pager.settle()]);
    throw e;
  }
  await Promise.all([job.progress.settle(), pager.settle()]);
  const resume = pager.resume();
  const done = resume === null;
  // A step that ends mid-listing does not cut: its partial chunk is carried to the next step, so
  // every cut is content-defined and an unchanged re-sync meets the same chunks (and digests)
  // wherever the steps of either job ended. Exports cut by count and have nothing to carry.
  const carry = !done && source.carries ? cutter.takePartial() : [];
  // Only an import carries (its entries are object entries).
  if (carry.length) await putCarry(deps.db, jobId, cursor.step, carry as unknown as ChunkEntry[]);
  cutter.cut();
  if (done && source.ordered) {
    // The listing's final chunk is open-ended: it also diffs every link after the last listed key
    // (an empty chunk when the listing ended on a chunk boundary or listed nothing).
    await handOver(false);
    if (writer.last) writer.last.to = null;
    else writer.add(source.emptyLast({ jobId, n: n++, from }));
  }
  await handOver(true);
  const counts = { listed, chunks: writer.planned, skipped: source.skipped, hardLinks, unchangedChunks: writer.unchangedChunks, unchangedObjects: writer.unchangedObjects };
  await countStep(deps.db, job, cursor.step, counts, done);
  const next = { ...resume, nextChunk: n, rangeStart: from, step: cursor.step + 1, linkRun: source.run, hasCarry: carry.length > 0 };
  return { token: done ? null : encodeListCursor(next), done, chunks: writer.refs, listed };
}

/**
 * Adds a step's counts to its job (once per step) and publishes the listing's exact count so far;
 * the step that completes the listing publishes the total, percent and ETA with it.
 */
async function countStep(db: Db, job: { storageId: number; jobId: string }, step: number, counts: ListingCounts, done: boolean): Promise<void> {
  const counted = await addListingCounts(db, job.jobId, step, counts, done);
  if (!counted) return;
  await (done ? publishProgress(db, job.storageId, counted) : publishListed(db, job.storageId, counted, counted.listed));
}
