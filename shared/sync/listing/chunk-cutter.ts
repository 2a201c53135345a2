/**
 * How a listing is cut into chunks: by count and bytes, and for imports at content-defined
 * boundaries (the same keys give the same chunks whatever the listing steps' boundaries were).
 */

/**
 * Cuts entries into chunks of at most `chunkSize` entries and `maxBytes` of keys. With a
 * `boundary` predicate the cuts are content-defined: between `chunkSize / 2` and `2 × chunkSize`
 * entries a chunk ends before an entry the predicate picks (probability 2 / chunkSize, so chunks
 * average `chunkSize`). The same keys then give the same chunks whatever the listing steps'
 * (time-dependent) boundaries were, so unchanged chunks of a re-sync match the previous job's
 * digests. Pure; the caller assigns numbers and ranges.
 */
export class ChunkCutter<T> {
  private current: T[] = [];
  private bytes = 0;
  readonly full: T[][] = [];

  constructor(
    private readonly chunkSize: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (t: T) => number,
    private readonly boundary?: (t: T) => boolean,
  ) {}

  push(t: T): void {
    const b = this.sizeOf(t);
    const n = this.current.length;
    const max = this.boundary ? this.chunkSize * 2 : this.chunkSize;
    const cdc = this.boundary !== undefined && n >= Math.max(1, Math.floor(this.chunkSize / 2)) && this.boundary(t);
    if (n && (n >= max || this.bytes + b > this.maxBytes || cdc)) this.cut();
    this.current.push(t);
    this.bytes += b;
  }

  /** Removes and returns the partial chunk (the entries after the last cut). */
  takePartial(): T[] {
    const rest = this.current;
    this.current = [];
    this.bytes = 0;
    return rest;
  }

  /** Moves the partial chunk to `full` (if non-empty). */
  cut(): void {
    if (!this.current.length) return;
    this.full.push(this.current);
    this.current = [];
    this.bytes = 0;
  }
}

/** Content-defined chunk boundary: a salted FNV-1a of the key hits 0 modulo `chunkSize / 2`. */
export function keyBoundary(chunkSize: number): (e: { k: string }) => boolean {
  const m = Math.max(1, Math.floor(chunkSize / 2));
  return (e) => {
    let h = 0x9e3779b9;
    for (let i = 0; i < e.k.length; i++) {
      h ^= e.k.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % m === 0;
  };
}
