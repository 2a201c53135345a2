/**
 * readAhead: a listing consumed one page ahead (shared/storage/common.ts). Order, overlap, early
 * stop and errors, on plain async generators.
 */
import { describe, expect, it } from 'vitest';
import { readAhead } from '../../shared/storage/common';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** A source of `n` pages that records how many it has started to produce, and whether it was closed. */
function source(n: number, failAt?: number) {
  const state = { started: 0, closed: false };
  async function* pages() {
    try {
      for (let i = 0; i < n; i++) {
        state.started = i + 1;
        await tick();
        if (i === failAt) throw new Error(`page ${i} failed`);
        yield i;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, pages: pages() };
}

describe('readAhead', () => {
  it('yields every page in order', async () => {
    const { pages } = source(5);
    const out: number[] = [];
    for await (const p of readAhead(pages)) out.push(p);
    expect(out).toEqual([0, 1, 2, 3, 4]);
  });

  it('fetches the next page while the consumer handles the current one', async () => {
    const { state, pages } = source(4);
    const startedWhenSeen: number[] = [];
    for await (const p of readAhead(pages)) {
      startedWhenSeen.push(state.started);
      // The consumer's own work on the page: the source is meanwhile producing page p + 1.
      await tick();
      await tick();
      expect(p).toBe(startedWhenSeen.length - 1);
    }
    // When page p reaches the consumer, page p + 1 is already under way (the last has none after it).
    expect(startedWhenSeen).toEqual([2, 3, 4, 4]);
  });

  it('closes the source when the consumer stops early, and drops the page in flight', async () => {
    const { state, pages } = source(10);
    const out: number[] = [];
    for await (const p of readAhead(pages)) {
      out.push(p);
      if (p === 2) break;
    }
    expect(out).toEqual([0, 1, 2]);
    expect(state.closed).toBe(true);
    expect(state.started).toBe(4);
  });

  it('throws a source error where its page would have been, after the pages before it', async () => {
    const { pages } = source(5, 3);
    const out: number[] = [];
    await expect(
      (async () => {
        for await (const p of readAhead(pages)) {
          out.push(p);
          await tick();
          await tick();
        }
      })(),
    ).rejects.toThrow('page 3 failed');
    expect(out).toEqual([0, 1, 2]);
  });
});
