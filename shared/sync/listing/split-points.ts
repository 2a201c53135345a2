/**
 * Probe points inside a key range: strings spread evenly between two keys, read as numbers in
 * code-point digits. A probe is only a guess where keys might be; the listing asks the storage
 * for the first key after it, and only that real key ever becomes a range boundary.
 */
import { compareUtf8 } from '../../storage/common';

/** Code-point digits interpolated after the shared prefix. */
const DIGITS = 3;
/** No probe uses control characters (some backends refuse them in a start key). */
const MIN_CODE = 0x20;
/** When the range has no upper bound, probes reach up to here (above every ASCII key). */
const OPEN_END_CODE = 0x7f;

const codes = (s: string): number[] => Array.from(s, (c) => c.codePointAt(0)!);

/** A code point usable in a probe: printable and not a lone surrogate. */
/** The last code point (String.fromCodePoint throws above it). */
const MAX_CODE = 0x10ffff;
const usable = (c: number): number => (c < MIN_CODE ? MIN_CODE : c >= 0xd800 && c <= 0xdfff ? 0xe000 : Math.min(c, MAX_CODE));

/**
 * Up to `count` distinct strings strictly between `lo` and `hi` (UTF-8 byte order), spread evenly
 * in the code points that follow their common prefix; `hi` null means no upper bound. Fewer (or
 * none) when the two are too close at this precision.
 */
export function probePoints(lo: string, hi: string | null, count: number): string[] {
  const a = codes(lo);
  const b = hi === null ? [] : codes(hi);
  let c = 0;
  while (c < a.length && c < b.length && a[c] === b[c]) c++;
  const da = Array.from({ length: DIGITS }, (_, i) => a[c + i] ?? 0);
  // After a key that starts with the last code point, an open end is the highest string there is.
  const open = da[0] >= MAX_CODE ? Array<number>(DIGITS).fill(MAX_CODE) : [Math.max(OPEN_END_CODE, da[0] + 1), ...Array<number>(DIGITS - 1).fill(0)];
  // A far sentinel bound (a subtree end, U+FFFD) is read as an open end: spread over it, almost
  // every probe would land above the keys.
  const db = hi === null || (b[c] ?? 0) > open[0] ? open : Array.from({ length: DIGITS }, (_, i) => b[c + i] ?? 0);
  const base = Math.max(0x80, ...da, ...db) + 1;
  const value = (d: number[]) => d.reduce((v, x) => v * base + x, 0);
  const [va, vb] = [value(da), value(db)];
  const prefix = String.fromCodePoint(...a.slice(0, c));
  const out: string[] = [];
  for (let j = 1; j <= count; j++) {
    let v = va + Math.floor(((vb - va) * j) / (count + 1));
    const digits: number[] = [];
    for (let i = 0; i < DIGITS; i++) {
      digits.unshift(v % base);
      v = Math.floor(v / base);
    }
    while (digits.length > 1 && digits[digits.length - 1] === 0) digits.pop();
    const p = prefix + String.fromCodePoint(...digits.map(usable));
    // Clamped digits can fall back below the previous point: only increasing points are kept.
    if (compareUtf8(p, out.length ? out[out.length - 1] : lo) > 0 && (hi === null || compareUtf8(p, hi) < 0)) out.push(p);
  }
  return out;
}

/**
 * Like probePoints, but in the digits of `alphabet` (the sorted code points seen in listed keys):
 * keys of a sparse alphabet (decimal counters, hex hashes) fill a few of the ~128 code points a
 * position can take, so points spread over all code points mostly land in gaps of the key space
 * and a split needs several probe rounds; spread over the seen characters, one round lands
 * inside the keys. Characters not in the alphabet count as the next seen one.
 */
export function alphabetPoints(lo: string, hi: string | null, count: number, alphabet: number[]): string[] {
  if (alphabet.length < 2) return [];
  const a = codes(lo);
  const b = hi === null ? [] : codes(hi);
  let c = 0;
  while (c < a.length && c < b.length && a[c] === b[c]) c++;
  // Digit 0: no character; 1..A: alphabet positions; A + 1: past every seen character.
  const digit = (x: number | undefined): number => {
    if (x === undefined) return 0;
    let i = 0;
    while (i < alphabet.length && alphabet[i] < x) i++;
    return i + 1;
  };
  const base = alphabet.length + 2;
  const da = Array.from({ length: DIGITS }, (_, i) => digit(a[c + i]));
  const db = hi === null ? [base - 1, ...Array<number>(DIGITS - 1).fill(0)] : Array.from({ length: DIGITS }, (_, i) => digit(b[c + i]));
  const value = (d: number[]) => d.reduce((v, x) => v * base + x, 0);
  const [va, vb] = [value(da), value(db)];
  const prefix = String.fromCodePoint(...a.slice(0, c));
  const top = Math.max(OPEN_END_CODE, alphabet[alphabet.length - 1] + 1);
  const out: string[] = [];
  for (let j = 1; j <= count; j++) {
    let v = va + Math.floor(((vb - va) * j) / (count + 1));
    const digits: number[] = [];
    for (let i = 0; i < DIGITS; i++) {
      digits.unshift(v % base);
      v = Math.floor(v / base);
    }
    while (digits.length > 1 && digits[digits.length - 1] === 0) digits.pop();
    const cps = digits.map((d) => (d === 0 ? MIN_CODE : d > alphabet.length ? top : alphabet[d - 1])).map(usable);
    const p = prefix + String.fromCodePoint(...cps);
    if (compareUtf8(p, out.length ? out[out.length - 1] : lo) > 0 && (hi === null || compareUtf8(p, hi) < 0)) out.push(p);
  }
  return out;
}

/** Sorts after every key that starts with the string it ends (in practice: no key uses it). */
const SUBTREE_END = '\uFFFD';

/**
 * Points just past each prefix of `lo`: the first key after `lo[0..i] + U+FFFD` is the first key
 * that does not start with `lo[0..i]`. From the deepest prefix to the shallowest they land
 * geometrically further ahead (the next "directory" at each depth, folders or not), at most
 * `count` of them, strictly between `lo` and `hi`.
 */
export function subtreeEnds(lo: string, hi: string | null, count: number): string[] {
  const out: string[] = [];
  const cps = Array.from(lo);
  for (let i = cps.length - 1; i >= 0 && out.length < count; i--) {
    const p = cps.slice(0, i + 1).join('') + SUBTREE_END;
    if (compareUtf8(p, lo) > 0 && (hi === null || compareUtf8(p, hi) < 0) && !out.includes(p)) out.push(p);
  }
  return out;
}

/**
 * How far apart two keys are, comparable between ranges: a shorter shared prefix is wider, then a
 * larger distance of the next code points (hi null: open end).
 */
export function spanOf(lo: string, hi: string | null): number {
  const a = codes(lo);
  const b = hi === null ? [OPEN_END_CODE + 1] : codes(hi);
  let c = 0;
  while (c < a.length && c < b.length && a[c] === b[c]) c++;
  const d = (x: number[]) => (Math.min(x[c] ?? 0, 0x80) * 0x81 + Math.min(x[c + 1] ?? 0, 0x80)) / (0x81 * 0x81);
  return -c + Math.max(0, d(b) - d(a));
}
