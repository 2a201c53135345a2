/**
 * Partitioned listing (shared/sync/listing/range-listing.ts) over the synthetic ordered storage:
 * whatever the key set, the partition count, the piece size and where the listing is stopped and
 * resumed, the pages come in key order and hold every key exactly once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareUtf8 } from '../../shared/storage/common';
import type { ListOptions } from '../../shared/storage/types';
import { RangeListing, type RangeListingOptions } from '../../shared/sync/listing/range-listing';
import { alphabetPoints, probePoints } from '../../shared/sync/listing/split-points';
import { flatKeys, SyntheticProvider } from '../fixtures/synthetic-provider';

/** Lists everything, stopping after `stopEvery` pages each time and resuming from `remaining()`. */
async function listAll(p: SyntheticProvider, o: RangeListingOptions, stopEvery: number, maxBounds = 64): Promise<{ keys: string[]; splits: number; steps: number }> {
  const keys: string[] = [];
  let bounds: (string | null)[] | null = [null];
  let splits = 0;
  let steps = 0;
  while (bounds) {
    const listing: RangeListing = new RangeListing((opts) => p.list(opts), bounds, o);
    let n = 0;
    for await (const page of listing.pages()) {
      keys.push(...page.entries.map((e) => e.key));
      if (++n === stopEvery) listing.stop();
    }
    await listing.settle();
    splits += listing.splits;
    bounds = listing.remaining(maxBounds, 16 * 1024);
    if (++steps > 10_000) throw new Error('no progress');
  }
  return { keys, splits, steps };
}

describe('probe points', () => {
  it('lie strictly between their bounds, in order, also without an upper bound', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6 }), fc.option(fc.string({ unit: 'binary', maxLength: 6 })), fc.integer({ min: 1, max: 20 }), (a, b, n) => {
        const [lo, hi] = b !== null && compareUtf8(b, a) < 0 ? [b, a] : [a, b];
        const pts = probePoints(lo, hi, n);
        expect(pts.length).toBeLessThanOrEqual(n);
        for (const [i, p] of pts.entries()) {
          expect(compareUtf8(p, lo)).toBeGreaterThan(0);
          if (hi !== null) expect(compareUtf8(p, hi)).toBeLessThan(0);
          if (i) expect(compareUtf8(p, pts[i - 1])).toBeGreaterThan(0);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('after a key starting with the last code point, with no upper bound (a case 1 in ~46,000 random runs met)', () => {
    const lo = '\u{10FFFF}\u{10FFFB}';
    const pts = probePoints(lo, null, 5);
    for (const [i, p] of pts.entries()) {
      expect(compareUtf8(p, lo)).toBeGreaterThan(0);
      if (i) expect(compareUtf8(p, pts[i - 1])).toBeGreaterThan(0);
    }
  });
});

describe('alphabet probe points', () => {
  it('lie strictly between their bounds, in order, for any alphabet, also without an upper bound', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 6 }),
        fc.option(fc.string({ unit: 'binary', maxLength: 6 })),
        fc.integer({ min: 1, max: 20 }),
        fc.uniqueArray(fc.integer({ min: 0x20, max: 0x1f600 }), { minLength: 2, maxLength: 12 }),
        (a, b, n, alphabet) => {
          const [lo, hi] = b !== null && compareUtf8(b, a) < 0 ? [b, a] : [a, b];
          const pts = alphabetPoints(lo, hi, n, [...alphabet].sort((x, y) => x - y));
          expect(pts.length).toBeLessThanOrEqual(n);
          for (const [i, p] of pts.entries()) {
            expect(compareUtf8(p, lo)).toBeGreaterThan(0);
            if (hi !== null) expect(compareUtf8(p, hi)).toBeLessThan(0);
            if (i) expect(compareUtf8(p, pts[i - 1])).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('split decimal keys at many keys in one round where code-point probes find few', () => {
    // 1M keys p/0000000.jpg … p/0999999.jpg; the first key after a probe point, by binary search.
    const firstAfter = (p: string) => {
      let [lo, hi] = [0, 1_000_000];
      while (lo < hi) {
        const m = (lo + hi) >>> 1;
        if (compareUtf8(flatKeys(m), p) <= 0) lo = m + 1;
        else hi = m;
      }
      return lo;
    };
    const found = (pts: string[]) => new Set(pts.map(firstAfter).filter((i) => i < 1_000_000)).size;
    const seen = [...new Set(Array.from({ length: 64 }, (_, i) => [...flatKeys(i * 16)]).flat().map((c) => c.codePointAt(0)!))].sort((x, y) => x - y);
    // The alphabet of the first page; from its last key up to a probe's empty-above hint, as a listing's first rounds see it.
    expect(found(alphabetPoints(flatKeys(999), 'p/0jg', 16, seen))).toBeGreaterThanOrEqual(10);
    expect(found(probePoints(flatKeys(999), 'p/0jg', 16))).toBeLessThan(5);
  });
});

describe('partitioned listing', () => {
  it('a stop at the first gap still hands over the pages that join the consumed keys (the front range read ahead)', async () => {
    const p = new SyntheticProvider({ count: 20_000, pageMs: 2 });
    const [k] = [p.allKeys()[9_999]];
    const listing = new RangeListing((o) => p.list(o), [null, k], { partitions: 4, piecePages: 8, bufferEntries: 50_000, minSplitPageMs: 1_000 });
    const keys: string[] = [];
    for await (const page of listing.pages()) {
      // Twice: the first stop would fill the gap up to what the second range listed.
      if (!keys.length) listing.stop(), listing.stop();
      keys.push(...page.entries.map((e) => e.key));
    }
    await listing.settle();
    // The page read ahead (listed, or in flight at the stop) is consumed, not listed again.
    expect(keys).toEqual(p.allKeys().slice(0, 2_000));
    // Resumes after the last consumed key; the second range's boundary stays (pages it listed
    // past the gap are listed again).
    const rest = listing.remaining(8, 4096)!;
    expect(rest[0]).toBe(keys[keys.length - 1]);
    expect(rest).toContain(k);
  });

  it('a stop first fills the gaps behind what was listed ahead: those pages are consumed, not listed again by the next step', async () => {
    const p = new SyntheticProvider({ count: 8_000, pageMs: 3 });
    const all = p.allKeys();
    const bounds = [null, all[1_999], all[3_999], all[5_999]];
    // Pages listed in the fourth range so far.
    let fourth = 0;
    async function* list(o: ListOptions) {
      for await (const page of p.list(o)) {
        if (page.entries.some((e) => compareUtf8(e.key, all[5_999]) > 0)) fourth++;
        yield page;
      }
    }
    const listing = new RangeListing(list, bounds, { partitions: 4, piecePages: 1, bufferEntries: 100_000, minSplitPageMs: 1_000, pageSize: 100 });
    const keys: string[] = [];
    let servedAtStop = 0;
    for await (const page of listing.pages()) {
      keys.push(...page.entries.map((e) => e.key));
      // Stop once the fourth range has listed a page (the others were started before it).
      if (!servedAtStop && fourth > 0) {
        servedAtStop = p.requests;
        listing.stop();
      }
    }
    await listing.settle();
    expect(servedAtStop).toBeGreaterThan(0);
    // The consumed keys are a prefix of the key set that reaches into the fourth range: the gaps
    // of the first three were filled, and the pages the fourth listed joined up with them.
    expect(keys).toEqual(all.slice(0, keys.length));
    expect(keys.length).toBeGreaterThan(6_000);
    expect(keys.length).toBeLessThan(8_000);
    // Nothing listed was thrown away but the requests in flight when the fill ended (one per
    // lister) and the empty last request of each range that ends on a page boundary (three).
    const rest = listing.remaining(8, 4096)!;
    expect(rest[0]).toBe(keys[keys.length - 1]);
    expect(p.requests * 100 - keys.length).toBeLessThanOrEqual((4 + 3) * 100);
  });

  it('lists every key once, in order, for random key sets, partition counts, pieces and stop points', async () => {
    const key = fc.string({ unit: fc.constantFrom('a', 'b', 'z', '/', '0', '9', '~', 'é', '日', '😀'), minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(key, { maxLength: 300 }),
        fc.record({ partitions: fc.integer({ min: 1, max: 8 }), piecePages: fc.integer({ min: 1, max: 4 }), bufferEntries: fc.integer({ min: 1, max: 50 }), pageSize: fc.integer({ min: 1, max: 7 }) }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 8 }),
        async (keys, o, stopEvery, maxBounds) => {
          const p = new SyntheticProvider({ keys });
          const got = await listAll(p, { ...o, minSplitPageMs: 0 }, stopEvery, maxBounds);
          expect(got.keys).toEqual([...keys].sort(compareUtf8));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('splits a flat prefix at probed keys and lists it with several listers at once', async () => {
    // A server whose pages are round trips (cpuMs: none of the wait is this process's CPU).
    const p = new SyntheticProvider({ count: 20_000, pageMs: 20, jitter: 0.5 });
    const got = await listAll(p, { partitions: 8, piecePages: 2, bufferEntries: 50_000, minSplitPageMs: 1, cpuMs: () => 0 }, Number.MAX_SAFE_INTEGER);
    expect(got.keys).toEqual(p.allKeys());
    expect(got.splits).toBeGreaterThanOrEqual(2);
    expect(p.maxInFlight).toBeGreaterThanOrEqual(3);
  });

  it('adds listers while they pay (up to the partitions) and stays at one where they slow each other down', async () => {
    const run = async (serial: boolean) => {
      const p = new SyntheticProvider({ count: 60_000, pageMs: 40, jitter: 0.1, slowShare: 0, serial });
      const listing = new RangeListing((o) => p.list(o), [null], { partitions: 16, piecePages: 4, bufferEntries: 200_000, minSplitPageMs: 1, cpuMs: () => 0 });
      const keys: string[] = [];
      for await (const page of listing.pages()) keys.push(...page.entries.map((e) => e.key));
      await listing.settle();
      expect(keys).toEqual(p.allKeys());
      return { listing, p };
    };
    const independent = await run(false);
    expect(independent.listing.allowed).toBe(16);
    expect(independent.listing.judged).toBe(true);
    expect(independent.p.maxInFlight).toBeGreaterThan(8);
    const serial = await run(true);
    expect(serial.listing.allowed).toBe(1);
    expect(serial.listing.judged).toBe(true);
    // Once judged, no probe round adds requests: 60 pages and what the first listers and probes spent.
    expect(serial.p.requests).toBeLessThan(independent.p.requests);
  });

  it('keeps one lister and sends no probe when lone pages are spent on this process\'s CPU', async () => {
    const p = new SyntheticProvider({ count: 20_000, pageMs: 15, jitter: 0.1, slowShare: 0, busy: true });
    const listing = new RangeListing((o) => p.list(o), [null], { partitions: 16, piecePages: 4, bufferEntries: 200_000, minSplitPageMs: 1, cpuMs: () => p.cpuMs });
    const keys: string[] = [];
    for await (const page of listing.pages()) keys.push(...page.entries.map((e) => e.key));
    await listing.settle();
    expect(keys).toEqual(p.allKeys());
    expect(listing.allowed).toBe(1);
    expect(listing.judged).toBe(true);
    expect(listing.splits).toBe(0);
    expect(p.maxInFlight).toBe(1);
    // 20 pages in pieces of 4: a request per page and none for probes.
    expect(p.requests).toBeLessThanOrEqual(20 + 5);
  });

  it('does not split a listing whose pages arrive faster than the split threshold', async () => {
    const p = new SyntheticProvider({ count: 5_000 });
    const got = await listAll(p, { partitions: 8, piecePages: 2, bufferEntries: 50_000, minSplitPageMs: 10_000 }, Number.MAX_SAFE_INTEGER);
    expect(got.keys).toEqual(p.allKeys());
    expect(got.splits).toBe(0);
    expect(p.requests).toBe(5);
  });
});
