/**
 * Partitioned listing of an ordered provider that seeks: the key space still to list is a row of
 * contiguous ranges (after, through], listed by up to `partitions` listers at once, and handed to
 * the consumer as one stream of pages in key order — so whatever the partitioning, the consumer
 * (the chunk cutter) sees exactly the sequential listing, and chunk cuts, digests, ranges, ids and
 * counters are the same as with one continuation token.
 *
 * - A lister lists one piece of a range (at most `piecePages` pages), then hands the rest of the
 *   range back as a new range after it: no lister runs far ahead of the consumer, and every range
 *   resumes from its last listed key (`startAfter`), never from a provider token.
 * - Ranges split at real keys: when listers are idle, the widest range is probed at points spread
 *   between its last listed key and its end; the first key after a probe becomes a boundary. A
 *   flat prefix splits like any other (no folders needed). Listings whose pages arrive faster than
 *   `minSplitPageMs` are bound by CPU, not round trips, and are not split.
 * - Listed but unconsumed entries are bounded by `bufferEntries` (only the front range may exceed
 *   it): memory and the chunks a step can still cut after it decided to stop stay bounded.
 * - Listers are added only while they pay. Nothing is split before two pages listed alone after
 *   the first tell where their time goes: when this process spent at least
 *   {@link CPU_BOUND_SHARE} of it on CPU (local files' stat calls, an emulator serving from this
 *   process), more listers cannot overlap it and the listing stays at one. Otherwise it tries up
 *   to 4 (one range each) and multiplies them by 4 (up to `partitions`, four ranges each) each
 *   time 8 pages listed beside at least 2 other requests took less than 0.6 × (the latency of a
 *   page listed alone × requests in flight). A listing whose pages take that long is bound by the
 *   server (an S3-compatible server short of CPU): it goes on with one lister and no splits, and
 *   the ranges nobody started are joined again. The verdict and the lone-page latency travel to
 *   the next step. S3, GCS and Azure answer one client's concurrent listings independently.
 *   Probes are bounded by {@link PROBES_PER_PAGE}.
 * - `stop()` first fills the gaps: ranges beyond the furthest key listed so far are not started
 *   and nothing is split any more, while the listers go on with the ranges before that key, so
 *   what was listed ahead of the consumer joins up with it instead of being listed again by the
 *   next step. The fill ends when the consumer reaches that key or after `bufferEntries / 2` more
 *   entries (the chunks a step cuts after deciding to stop stay bounded), or at `stop()` called
 *   again. Then the listing ends at its first gap (one range ends after the page the consumer
 *   holds, as a sequential listing): listers finish their request in flight and hand their rest
 *   back, the consumer still gets every page that joins what it consumed (the front range's, then
 *   ranges behind it listed in full), and `remaining()` holds the boundaries to resume from
 *   (pages listed past the gap are listed again by the next step).
 */
import { clipToRange, compareUtf8 } from '../../storage/common';
import type { ListOptions, ListPage } from '../../storage/types';
import { alphabetPoints, probePoints, spanOf, subtreeEnds } from './split-points';

export interface RangeListingOptions {
  /** Listers at once (LABELSYNC_LIST_PARTITIONS). */
  partitions: number;
  /** Pages a lister takes from a range before handing the rest back. */
  piecePages: number;
  /** Listed entries held for the consumer beyond the front range. */
  bufferEntries: number;
  /** Ranges are split only when the mean page latency is at least this (ms). */
  minSplitPageMs: number;
  pageSize?: number;
  /** A previous step's {@link RangeListing.soloMs} and {@link RangeListing.allowed}. */
  soloMs?: number;
  listers?: number;
  /** CPU this process has spent so far (ms): `process.cpuUsage()` unless a test models it. */
  cpuMs?: () => number;
}

const processCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export const DEFAULT_RANGE_OPTIONS: Omit<RangeListingOptions, 'partitions' | 'bufferEntries'> = { piecePages: 8, minSplitPageMs: 10 };

/**
 * CPU this process spends during lone pages, as a share of their latency, above which the listing
 * is bound by CPU here, not by round trips that more listers could overlap: local files' stat
 * calls measured 1.2–1.4 (the thread pool's CPU counts too), an emulator serving from this
 * process about 1; a cloud store's page is mostly waiting (parsing 1,000 keys takes a few ms of a
 * 50–150 ms round trip).
 */
export const CPU_BOUND_SHARE = 0.8;

interface Range {
  /** Exclusive lower bound (null: from the first key). */
  after: string | null;
  /** Inclusive upper bound (null: to the last key). */
  through: string | null;
  state: 'pending' | 'listing' | 'listed';
  pages: ListPage[];
  /** Last key listed in this range (its listing resumes after it). */
  last: string | null;
  /** Pages listed and their total latency (ms), inherited by the ranges split off. */
  pagesListed: number;
  ms: number;
  /** A probe found no key after this point (an upper hint of a range without an end). */
  emptyAbove?: string;
  /** Probing between these bounds taught nothing: not probed again until they move. */
  barren?: string;
  /** A probe round of this range is in flight. */
  probing?: boolean;
}

/** What a range is probed between. */
const boundsOf = (r: Range): string => `${r.last ?? ''}\u0000${r.through ?? r.emptyAbove ?? ''}`;

/** How wide the unlisted part of a range looks. */
const width = (r: Range): number => spanOf(r.last ?? '', r.through ?? r.emptyAbove ?? null);

/** Probes of one split round (they run at once: one round trip). */
const MAX_PROBES = 32;
/**
 * Probes a listing may send per page it listed (beyond a first round). Keeping 16 listers busy
 * over a flat prefix takes about 2.5 per page (1M synthetic keys); a listing whose ranges keep
 * finishing early (pages faster than the first ones) would probe again after every piece: 21
 * probes a page over 10,000 local files without this bound.
 */
const PROBES_PER_PAGE = 4;

type ListFn = (o: ListOptions) => AsyncIterable<ListPage>;

const newRange = (after: string | null, through: string | null, from?: Range): Range => ({
  after, through, state: 'pending', pages: [], last: after, pagesListed: from?.pagesListed ?? 0, ms: from?.ms ?? 0, ...(from?.emptyAbove ? { emptyAbove: from.emptyAbove } : {}),
});

export class RangeListing {
  /** Boundaries added by probing (tests and the bench read it). */
  splits = 0;
  /** Mean latency (ms) of the pages listed with no other request in flight. */
  soloMs: number | undefined;
  /** Listers that may run now (see the module comment). */
  allowed: number;
  private solo = { ms: 0, pages: 0 };
  /** CPU this process spent during lone pages after the first, and their latency (ms). */
  private soloCpu = { ms: 0, cpu: 0, pages: 0 };
  /** Page latency over (soloMs × requests in flight), summed over the pages of this level. */
  private crowd = { ratio: 0, pages: 0 };
  private probes = 0;
  /** Probes sent and pages listed so far (the probe budget). */
  private probesSent = 0;
  private pagesSeen = 0;
  /** The listers were settled (at `partitions`, or at 1), here or by an earlier step. */
  judged: boolean;
  private readonly ranges: Range[];
  private active = 0;
  /** Probe rounds in flight (each on its own range; one per 4 listers). */
  private rounds = 0;
  private stopping = false;
  private drain = false;
  /** Filling the gaps before `until` (see the module comment); `left`: entries it may still hand over. */
  private filling: { until: string; left: number } | undefined;
  private failure: unknown;
  private buffered = 0;
  private wake: (() => void) | undefined;
  private taken: (() => void)[] = [];
  private readonly idle = new Set<Promise<void>>();

  /**
   * @param list the provider's `list`
   * @param bounds the ranges to list: (b0, b1], (b1, b2], …, (b_n, end]; b0 null = from the start
   */
  constructor(
    private readonly list: ListFn,
    bounds: (string | null)[],
    private readonly o: RangeListingOptions,
  ) {
    const b = bounds.length ? bounds : [null];
    this.ranges = b.map((after, i) => newRange(after, i + 1 < b.length ? b[i + 1] : null));
    this.position = b[0];
    this.soloMs = o.soloMs;
    this.allowed = Math.max(1, Math.min(o.partitions, o.listers ?? 4));
    this.judged = o.listers !== undefined;
  }

  /** Last key handed to the consumer (where the next step resumes). */
  private position: string | null;

  /**
   * Pages in key order (each without a token: a resume point is `remaining()`).
   * @throws the first error of any lister (the step fails and is retried from its input token)
   */
  async *pages(): AsyncGenerator<ListPage> {
    this.schedule();
    while (this.ranges.length && (!this.stopping || this.drain)) {
      if (this.failure) throw this.failure;
      const r = this.ranges[0];
      if (this.filling && (this.filling.left <= 0 || (r.after !== null && compareUtf8(r.after, this.filling.until) >= 0))) this.endAtFirstGap();
      const page = r.pages.shift();
      if (page) {
        this.buffered -= page.entries.length;
        if (this.filling) this.filling.left -= page.entries.length;
        if (page.entries.length) this.position = page.entries[page.entries.length - 1].key;
        for (const w of this.taken.splice(0)) w();
        this.schedule();
        yield page;
        continue;
      }
      if (r.state === 'listed') {
        this.ranges.shift();
        if (this.ranges.length) this.position = this.ranges[0].after;
        this.schedule();
        continue;
      }
      // Stopping, the listing still hands over what joins the consumed keys: the front range's
      // pages, including the one in flight, and the ranges behind it already listed in full.
      if (this.stopping && r.state === 'pending') break;
      await new Promise<void>((res) => (this.wake = res));
    }
  }

  /** Fills the gaps behind the furthest listed key, then ends at the first gap; called again, ends at once (see the module comment). */
  stop(): void {
    if (this.stopping) return;
    const until = this.filling ? undefined : this.furthestListed();
    if (until === undefined) return this.endAtFirstGap();
    this.filling = { until, left: Math.floor(this.o.bufferEntries / 2) };
    this.notify();
  }

  /**
   * The last key listed behind the front range with at most `allowed` unfinished ranges before
   * it: gaps the listers fill at once (undefined: none, nothing to fill). Ranges further out are
   * usually a first piece of a range split off far ahead; filling up to them would list the rest.
   */
  private furthestListed(): string | undefined {
    let found: string | undefined;
    let unfinished = 0;
    for (const [i, r] of this.ranges.entries()) {
      if (r.state !== 'listed' && ++unfinished > this.allowed) break;
      if (i > 0 && r.last !== null && r.last !== r.after) found = r.last;
    }
    return found;
  }

  private endAtFirstGap(): void {
    this.filling = undefined;
    // One range is a sequential listing: it ends after the page the consumer holds, as one
    // continuation token does (a small or local listing is not held up by its read-ahead).
    this.drain = this.ranges.length > 1;
    this.stopping = true;
    for (const w of this.taken.splice(0)) w();
    this.notify();
  }

  /** While filling: `r` reached the key the fill ends at (its rest is listed by the next step). */
  private pastFill(r: Range): boolean {
    return !!this.filling && r.last !== null && compareUtf8(r.last, this.filling.until) >= 0;
  }

  /** Waits for the listers and probes still in flight (each ends after its current request). */
  async settle(): Promise<void> {
    this.stopping = true;
    while (this.idle.size) await Promise.allSettled([...this.idle]);
  }

  /**
   * The boundaries to resume from (null once everything was consumed), at most `maxBounds` of
   * them and `maxBytes` of keys: interior boundaries are dropped evenly (adjacent ranges merge).
   */
  remaining(maxBounds: number, maxBytes: number): (string | null)[] | null {
    let rs = this.ranges;
    let position = this.position;
    // A front range listed and consumed to its end is done: resume at the next one.
    if (rs.length && rs[0].state === 'listed' && !rs[0].pages.length) {
      rs = rs.slice(1);
      position = rs[0]?.after ?? null;
    }
    if (!rs.length) return null;
    let bounds = [position, ...rs.slice(1).map((r) => r.after)].filter((k, i, a) => i === 0 || (k !== null && (a[i - 1] === null || compareUtf8(k, a[i - 1]!) > 0)));
    const bytes = () => bounds.reduce((n, k) => n + (k?.length ?? 0) * 3, 0);
    while (bounds.length > 1 && (bounds.length > maxBounds || bytes() > maxBytes)) bounds = bounds.filter((_, i) => i === 0 || i % 2 === 0);
    return bounds;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private track(p: Promise<void>): void {
    this.idle.add(p);
    void p.finally(() => this.idle.delete(p));
  }

  /** Starts listers on the first pending ranges, then splits when listers would sit idle. */
  private schedule(): void {
    if (this.stopping || this.failure) return;
    const full = this.buffered >= this.o.bufferEntries;
    // With the buffer full only the first `partitions` unfinished ranges may start (the
    // consumer needs them next); ranges listed in full in between do not count.
    let ahead = 0;
    for (const [i, r] of this.ranges.entries()) {
      if (this.filling && r.after !== null && compareUtf8(r.after, this.filling.until) >= 0) break;
      // The front range always starts: the consumer waits for nothing else.
      if (r.state === 'pending' && i > 0 && (this.active >= this.allowed || (full && ahead >= this.allowed))) break;
      if (r.state === 'pending') this.track(this.runPiece(r));
      if (r.state !== 'listed') ahead++;
    }
    if (this.filling || this.allowed === 1) return;
    // Up to 4 unfinished ranges per lister: when one range proves much larger than the others,
    // it is split while the small ones are listed, instead of being listed alone at the end.
    const unfinished = this.ranges.filter((r) => r.state !== 'listed').length;
    // Splitting when enough ranges wait for a lister only cuts ranges short ahead of their
    // listers: the keys of the page in flight past the cut are listed again by another request.
    // With the buffer full only the ranges near the front may start: those count.
    let pending = 0;
    ahead = 0;
    for (const r of this.ranges) {
      if (full && ahead >= this.allowed) break;
      if (r.state === 'pending') pending++;
      if (r.state !== 'listed') ahead++;
    }
    // Until the listers are judged, one range each is enough to judge them by.
    const want = pending >= this.allowed ? 0 : (this.judged ? 4 : 1) * this.allowed - unfinished;
    // Rounds on different ranges run at once, so the first second of a listing is not spent
    // waiting for one round trip after another before every lister has a range.
    // Past half the buffer the front ranges are split first: the consumer waits for them.
    if (want > 0 && this.rounds < Math.ceil(this.allowed / 4) && this.probesSent < MAX_PROBES + this.pagesSeen * PROBES_PER_PAGE) this.track(this.split(Math.min(want, MAX_PROBES / 2), this.buffered >= this.o.bufferEntries / 2));
  }

  /** Lists one piece of `r`. */
  private async runPiece(r: Range): Promise<void> {
    r.state = 'listing';
    this.active++;
    const from = r.last;
    const it = this.list({ startAfter: r.last ?? undefined, endAt: r.through ?? undefined, pageSize: this.o.pageSize })[Symbol.asyncIterator]();
    try {
      for (let n = 1; ; n++) {
        // The front range reads one page ahead of the consumer, as a sequential listing does:
        // more would only be listed past the point where a step stops.
        while (r === this.ranges[0] && r.pages.length && !this.stopping) await new Promise<void>((res) => this.taken.push(res));
        if ((this.stopping || this.pastFill(r)) && r.last !== from) {
          this.handBack(r);
          break;
        }
        const t0 = Date.now();
        const cpuMs = this.o.cpuMs ?? processCpuMs;
        const cpu0 = cpuMs();
        const inFlight = this.active + this.probes;
        const res = await it.next();
        r.ms += Date.now() - t0;
        this.observe(Date.now() - t0, inFlight, cpuMs() - cpu0);
        r.pagesListed++;
        this.pagesSeen++;
        if (res.done) {
          r.state = 'listed';
          break;
        }
        // The end may have moved down (a split) while the page was in flight.
        const { entries, past } = clipToRange(res.value.entries, { endAt: r.through ?? undefined });
        if (entries.length) r.last = entries[entries.length - 1].key;
        this.learn(entries);
        r.pages.push({ ...res.value, entries, nextToken: undefined });
        this.buffered += entries.length;
        this.notify();
        if (past || !res.value.nextToken) {
          r.state = 'listed';
          break;
        }
        // A piece hands its rest back only once it got past its start (a filtered stretch of
        // empty pages keeps listing, or the rest would start where the piece did).
        const full = n >= this.o.piecePages || (r !== this.ranges[0] && this.buffered >= this.o.bufferEntries);
        if ((this.stopping || full || this.pastFill(r)) && r.last !== from) {
          this.handBack(r);
          break;
        }
      }
    } catch (e) {
      this.failure ??= e;
    } finally {
      await Promise.resolve(it.return?.()).catch(() => undefined);
      this.active--;
      this.notify();
      this.schedule();
    }
  }

  /** Learns from a page's latency whether more listers pay (see the module comment). */
  private observe(ms: number, inFlight: number, cpuMs: number): void {
    if (inFlight <= 1) {
      this.solo.ms += ms;
      this.solo.pages++;
      this.soloMs = this.solo.ms / this.solo.pages;
      // The first page opens the listing (a cold cache, a new connection, code run for the first
      // time): the CPU share is judged on the next two.
      if (this.solo.pages === 1) return;
      this.soloCpu.ms += ms;
      this.soloCpu.cpu += cpuMs;
      this.soloCpu.pages++;
      if (!this.judged && this.soloCpu.pages >= 2 && this.soloCpu.cpu >= CPU_BOUND_SHARE * this.soloCpu.ms) {
        this.allowed = 1;
        this.judged = true;
        this.mergePending();
      }
      return;
    }
    // Beside one other request, independent latencies sit near the threshold: not counted.
    if (inFlight < 3 || !this.soloMs || this.judged) return;
    this.crowd.ratio += ms / (this.soloMs * inFlight);
    if (++this.crowd.pages < 8) return;
    const pays = this.crowd.ratio / this.crowd.pages < 0.6;
    this.crowd = { ratio: 0, pages: 0 };
    this.allowed = pays ? Math.min(this.o.partitions, this.allowed * 4) : 1;
    this.judged = !pays || this.allowed >= this.o.partitions;
    if (!pays) this.mergePending();
    this.schedule();
  }

  /**
   * Joins runs of adjacent ranges no lister started into one range: one lister lists on through
   * them with whole pages, instead of a short page and a new request at every split point.
   */
  private mergePending(): void {
    for (let i = this.ranges.length - 1; i > 0; i--) {
      const [a, b] = [this.ranges[i - 1], this.ranges[i]];
      if (a.state !== 'pending' || b.state !== 'pending' || a.probing || b.probing) continue;
      a.through = b.through;
      if (b.emptyAbove) a.emptyAbove = b.emptyAbove;
      this.ranges.splice(i, 1);
    }
  }

  /** Code points of the keys seen so far (64 keys sampled per page and its last). */
  private readonly seen = new Set<number>();

  private learn(entries: { key: string }[]): void {
    const step = Math.max(1, Math.floor(entries.length / 64));
    for (let i = 0; i < entries.length; i += step) for (const ch of entries[i].key) this.seen.add(ch.codePointAt(0)!);
    for (const ch of entries[entries.length - 1]?.key ?? '') this.seen.add(ch.codePointAt(0)!);
  }

  private alphabet(): number[] {
    return [...this.seen].sort((x, y) => x - y);
  }

  /** Ends `r` at its last listed key; the rest of it becomes the next range. */
  private handBack(r: Range): void {
    const rest = newRange(r.last, r.through, r);
    r.through = r.last;
    r.state = 'listed';
    this.ranges.splice(this.ranges.indexOf(r) + 1, 0, rest);
  }

  /** Splits the widest splittable range at the first keys after `count` probe points. */
  private async split(count: number, full: boolean): Promise<void> {
    const r = this.splitCandidate(full);
    if (!r) return;
    if (!probePoints(r.last ?? '', r.through ?? r.emptyAbove ?? null, count).length) {
      r.barren = boundsOf(r);
      return;
    }
    this.rounds++;
    r.probing = true;
    try {
      const lo = r.last ?? '';
      const hi = r.through ?? r.emptyAbove ?? null;
      const open = r.through === null;
      const seen = alphabetPoints(lo, hi, count, this.alphabet());
      const points = [...new Set([...subtreeEnds(lo, hi, MAX_PROBES - count - seen.length), ...probePoints(lo, hi, seen.length ? Math.ceil(count / 4) : count), ...seen])];
      const before = { splits: this.splits, hint: this.ranges[this.ranges.length - 1].emptyAbove };
      const found = await Promise.all(points.map((p) => this.firstKeyAfter(p, r.through)));
      if (this.stopping || this.filling) return;
      // The ranges moved on while the probes were out (pieces handed back): each result applies
      // to the range that holds it now.
      const tail = this.ranges[this.ranges.length - 1];
      found.forEach((k, i) => {
        if (k === null && open && tail.through === null && (!tail.emptyAbove || compareUtf8(points[i], tail.emptyAbove) < 0)) tail.emptyAbove = points[i];
      });
      for (const k of new Set(found.filter((k): k is string => typeof k === 'string'))) this.cutAt(k);
      if (this.splits === before.splits && tail.emptyAbove === before.hint) r.barren = boundsOf(r);
    } catch (e) {
      this.failure ??= e;
    } finally {
      this.rounds--;
      r.probing = false;
      this.schedule();
      this.notify();
    }
  }

  /** Splits the unfinished range that holds `k` strictly inside (ahead of its lister) at `k`. */
  private cutAt(k: string): void {
    const i = this.ranges.findIndex((r) => r.state !== 'listed' && (r.last === null || compareUtf8(k, r.last) > 0) && (r.through === null || compareUtf8(k, r.through) < 0));
    if (i < 0) return;
    const r = this.ranges[i];
    if (r.after !== null && compareUtf8(k, r.after) <= 0) return;
    this.ranges.splice(i + 1, 0, newRange(k, r.through, r));
    r.through = k;
    this.splits++;
  }

  /**
   * The range worth splitting (listed a page at round-trip speed): the widest of the first
   * 4 × partitions; with the buffer full, the first of the front ranges, which the consumer
   * waits for while the listed ranges behind it hold the buffer.
   */
  private splitCandidate(full: boolean): Range | undefined {
    // Not before lone pages tell whether the listing waits for round trips or for CPU here,
    // unless an earlier step judged it.
    if (!this.judged && this.soloCpu.pages < 2) return undefined;
    let best: Range | undefined;
    for (const r of this.ranges.slice(0, (full ? 1 : 4) * this.allowed)) {
      if (r.state === 'listed' || r.probing || r.pagesListed < 1 || r.ms / r.pagesListed < this.o.minSplitPageMs || r.barren === boundsOf(r)) continue;
      if (full) return r;
      if (!best || width(r) > width(best)) best = r;
    }
    return best;
  }

  /** The first key after `point` (null: none up to `through`; undefined: unknown, the first page was filtered empty). */
  private async firstKeyAfter(point: string, through: string | null): Promise<string | null | undefined> {
    const it = this.list({ startAfter: point, endAt: through ?? undefined, pageSize: 1 })[Symbol.asyncIterator]();
    this.probes++;
    this.probesSent++;
    try {
      const r = await it.next().finally(() => this.probes--);
      if (r.done) return null;
      const k = r.value.entries[0]?.key;
      this.learn(r.value.entries);
      return k ?? (r.value.nextToken ? undefined : null);
    } finally {
      await Promise.resolve(it.return?.()).catch(() => undefined);
    }
  }
}
