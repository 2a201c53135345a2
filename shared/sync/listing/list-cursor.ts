/**
 * Where a sync listing resumes: the cursor carried between listing steps inside an opaque token.
 * The token travels in the state of running executions and in the table, so its wire format (short
 * field names `p n k i r c q m w`) stays as it is; only this module maps it to named fields.
 */
import { encodeCursor, parseCursor } from '../../db/repo-common';

export interface ListCursor {
  /** The provider's (or export lister's) token to resume after; undefined for the start. */
  providerToken?: string;
  /** Number of the next chunk. */
  nextChunk: number;
  /** Last key of the previous chunk: the range start of the next one (null = from the start). */
  rangeStart: string | null;
  /** Step number (fences the job's listing counters against retried steps). */
  step: number;
  /** Link run of this listing (ordered imports; see shared/db/repo-link-pages.ts). */
  linkRun?: string;
  /** The previous step stored a carry (entries after its last chunk cut) for this one. */
  hasCarry: boolean;
  /**
   * A partitioned listing's key ranges still to list, as their boundaries (b0, b1], (b1, b2], …,
   * (bn, end] (b0 null: from the start); set instead of `providerToken` (see range-listing.ts).
   */
  ranges?: (string | null)[];
  /** Mean latency (ms) of a page listed with no other request in flight: what concurrency is judged against. */
  soloMs?: number;
  /** Listers the listing proved worth running (1: a server bound by its own CPU; see range-listing.ts). */
  listers?: number;
}

/** The wire format of the token. */
interface WireCursor {
  p?: string;
  n: number;
  k: string | null;
  i: number;
  r?: string;
  c?: true;
  q?: (string | null)[];
  m?: number;
  w?: number;
}

/**
 * The cursor of a token (the start of the listing for null).
 * @throws Error for a token that is not a listing token
 */
export function decodeListCursor(token: string | null): ListCursor {
  if (!token) return { nextChunk: 0, rangeStart: null, step: 0, hasCarry: false };
  const c = parseCursor(token) as Partial<WireCursor> | undefined;
  if (!c || typeof c.n !== 'number' || typeof c.i !== 'number') throw new Error('invalid listing token');
  return {
    ...(c.p !== undefined ? { providerToken: c.p } : {}),
    nextChunk: c.n,
    rangeStart: c.k ?? null,
    step: c.i,
    ...(c.r !== undefined ? { linkRun: c.r } : {}),
    hasCarry: c.c === true,
    ...(Array.isArray(c.q) ? { ranges: c.q } : {}),
    ...(typeof c.m === 'number' ? { soloMs: c.m } : {}),
    ...(typeof c.w === 'number' ? { listers: c.w } : {}),
  };
}

/** The token of a cursor. */
export function encodeListCursor(c: ListCursor): string {
  const wire: WireCursor = {
    p: c.providerToken,
    n: c.nextChunk,
    k: c.rangeStart,
    i: c.step,
    ...(c.linkRun ? { r: c.linkRun } : {}),
    ...(c.hasCarry ? { c: true as const } : {}),
    ...(c.ranges ? { q: c.ranges } : {}),
    ...(c.soloMs !== undefined ? { m: Math.round(c.soloMs) } : {}),
    ...(c.listers !== undefined ? { w: c.listers } : {}),
  };
  return encodeCursor(wire);
}
