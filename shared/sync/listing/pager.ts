/**
 * How a listing step walks its source: through one continuation token, or — for an ordered
 * provider that seeks, with LABELSYNC_LIST_PARTITIONS above 1 — as concurrently listed key ranges
 * merged back into key order (range-listing.ts). Either way the step sees one ordered stream of
 * pages, so chunks are the same whatever the partitioning.
 */
import { readAhead } from '../../storage/common';
import type { SyncSettings } from '../deps';
import { MAX_STEP_CHUNK_BUDGET } from '../list-step-limit';
import type { ListCursor } from './list-cursor';
import type { ListingSource } from './listing-source';
import { DEFAULT_RANGE_OPTIONS, RangeListing } from './range-listing';

/** Where the next step resumes. */
export type Resume = { providerToken: string } | { ranges: (string | null)[]; soloMs?: number; listers?: number };

export interface Pager {
  pages: AsyncIterable<{ nextToken?: string }>;
  /**
   * Asks the listing to end; true when pages still follow (the step takes them): a partitioned
   * listing first fills the gaps behind what it listed ahead; called again, it ends at once.
   */
  stop(): boolean;
  /** Waits for the requests still in flight. */
  settle(): Promise<void>;
  /** Where the next step resumes; null once the listing is complete. */
  resume(): Resume | null;
}

/**
 * Range boundaries a token keeps: the token travels twice in the state machine's state (see
 * list-step-limit.ts, 20 KiB for everything besides the chunk references), so the boundaries
 * stay under 4 KiB of UTF-8 (adjacent ranges merge; listing splits them again).
 */
const MAX_TOKEN_BOUND_BYTES = 4 * 1024;

/** The pager of a step starting at `cursor`. @throws Error for a range cursor of a source that cannot seek */
export function openPager<T>(source: ListingSource<T>, cursor: ListCursor, s: SyncSettings): Pager {
  const partition = cursor.ranges !== undefined || (!cursor.providerToken && s.listPartitions > 1);
  if (!source.listRange || !partition) {
    if (cursor.ranges) throw new Error('invalid listing token (key ranges for a listing that cannot seek)');
    return tokenPager(source, cursor.providerToken);
  }
  const listing = new RangeListing(source.listRange, cursor.ranges ?? [null], {
    ...DEFAULT_RANGE_OPTIONS,
    partitions: Math.max(1, s.listPartitions),
    bufferEntries: bufferEntries(s),
    soloMs: cursor.soloMs,
    listers: cursor.listers,
  });
  return {
    pages: listing.pages(),
    stop: () => (listing.stop(), true),
    settle: () => listing.settle(),
    resume: () => {
      const ranges = listing.remaining(Math.max(8, 4 * s.listPartitions), MAX_TOKEN_BOUND_BYTES);
      if (!ranges) return null;
      const { soloMs, allowed, judged } = listing;
      // One lister lists the rest as one range (bounds are only split points).
      return { ranges: judged && allowed === 1 ? ranges.slice(0, 1) : ranges, ...(judged ? { listers: allowed } : {}), ...(soloMs !== undefined ? { soloMs } : {}) };
    },
  };
}

/**
 * Entries listed ahead of the cutter: 16 pages per lister, but no more than a step can still cut
 * into chunks after it decided to stop: after the stop the listing hands over at most half this
 * many more while it fills its gaps, then what it holds (half of a step's chunk references are
 * kept for the 1.5 × this; a chunk holds at least chunkSize / 2 entries, or a chunk item's bytes
 * of 1 KiB keys).
 */
function bufferEntries(s: SyncSettings): number {
  const perChunk = Math.max(1, Math.min(Math.floor(s.chunkSize / 2), Math.floor(s.maxChunkBytes / 1064)));
  return Math.max(1000, Math.min(s.listPartitions * 16_000, Math.floor(MAX_STEP_CHUNK_BUDGET / 2) * perChunk));
}

/** One continuation token, one page read ahead. */
function tokenPager<T>(source: ListingSource<T>, start: string | undefined): Pager {
  let token = start;
  let complete = false;
  async function* pages() {
    for await (const page of readAhead(source.pages(start))) {
      token = page.nextToken;
      yield page;
      if (!token) break;
    }
    complete = true;
  }
  return {
    pages: pages(),
    stop: () => false,
    settle: async () => undefined,
    resume: () => (complete || !token ? null : { providerToken: token }),
  };
}
