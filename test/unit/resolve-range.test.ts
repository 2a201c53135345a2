import { describe, expect, it } from 'vitest';
import { PROXY_MAX_RANGE_BYTES, parseRange, rewriteRange } from '../../shared/resolve/range';
import { effectiveContentType, guessContentType } from '../../shared/resolve/content-type';

const MAX = 8 * 1024 * 1024;

describe('rewriteRange (the Range rewriting table of Label Studio)', () => {
  it.each([
    ['bytes=0-', 'bytes=0-'],
    ['bytes=0-0', 'bytes=0-0'],
    ['bytes=100-', `bytes=100-${100 + MAX}`],
    ['bytes=100-0', `bytes=100-${100 + MAX}`],
    ['bytes=10-20', 'bytes=10-20'],
    [`bytes=10-${10 + MAX + 5}`, `bytes=10-${10 + MAX}`],
    ['bytes=-500', `bytes=0-${MAX}`],
    ['bytes=abc', 'bytes=0-'],
    ['items=1-2', 'bytes=0-'],
    ['bytes=1-2,5-6', 'bytes=0-'],
  ])('%s → %s', (input, out) => {
    expect(rewriteRange(input, MAX)).toBe(out);
  });

  it('caps open ranges too when the runtime cannot stream (AWS)', () => {
    const max = PROXY_MAX_RANGE_BYTES.aws;
    expect(rewriteRange('bytes=0-', max, true)).toBe(`bytes=0-${max}`);
    expect(rewriteRange('garbage', max, true)).toBe(`bytes=0-${max}`);
    expect(rewriteRange('bytes=5-9', max, true)).toBe('bytes=5-9');
  });

  it('per-runtime caps keep AWS responses under the 6 MB Lambda payload limit', () => {
    expect(PROXY_MAX_RANGE_BYTES.aws + 1).toBeLessThan((6_000_000 * 3) / 4);
    expect(PROXY_MAX_RANGE_BYTES.local).toBe(MAX);
  });

  it('parseRange reads rewritten headers and refuses inverted ones', () => {
    expect(parseRange('bytes=0-')).toEqual({ start: 0, end: undefined });
    expect(parseRange('bytes=3-9')).toEqual({ start: 3, end: 9 });
    expect(parseRange('bytes=9-3')).toBeUndefined();
  });
});

describe('content types', () => {
  it('guesses from the extension, case-insensitively', () => {
    expect(guessContentType('dir/a.JPG')).toBe('image/jpeg');
    expect(guessContentType('v.mp4')).toBe('video/mp4');
    expect(guessContentType('s3://b/noext')).toBeUndefined();
    expect(guessContentType('dir.d/file')).toBeUndefined();
  });

  it('replaces only generic octet-stream types', () => {
    expect(effectiveContentType('binary/octet-stream', 'a.jpg')).toBe('image/jpeg');
    expect(effectiveContentType('application/octet-stream', 'a.mp4')).toBe('video/mp4');
    expect(effectiveContentType(undefined, 'a.png')).toBe('image/png');
    expect(effectiveContentType('image/webp', 'a.jpg')).toBe('image/webp');
    expect(effectiveContentType('application/octet-stream', 'a.unknownext')).toBe('application/octet-stream');
  });
});
