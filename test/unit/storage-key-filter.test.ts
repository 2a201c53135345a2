import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import { compileKeyFilter, normalizePrefix, pageSizeOf } from '../../shared/storage/key-filter';

describe('regex_filter semantics (Python re.match on the full key, RE2)', () => {
  it('anchors at the start but not at the end', () => {
    const m = compileKeyFilter('.*jpg');
    expect(m('a.jpg')).toBe(true);
    expect(m('a.jpg.bak')).toBe(true);
    expect(compileKeyFilter('jpg')('a.jpg')).toBe(false);
    expect(compileKeyFilter('images/')('images/x.png')).toBe(true);
    expect(compileKeyFilter('images/')('data/images/x.png')).toBe(false);
    expect(compileKeyFilter('.*\\.json$')('a.json.bak')).toBe(false);
  });

  it('treats empty and null as match-all', () => {
    for (const p of ['', null, undefined]) expect(compileKeyFilter(p)('anything/at all')).toBe(true);
  });

  it('rejects invalid and RE2-unsupported patterns with a ValidationError on regex_filter', () => {
    for (const p of ['(', '[a-', '(?=x)', '(a)\\1']) {
      try {
        compileKeyFilter(p);
        throw new Error(`accepted ${p}`);
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        expect(Object.keys((e as ValidationError).fields)).toEqual(['regex_filter']);
      }
    }
  });

  it('runs a catastrophic-backtracking pattern in linear time', () => {
    const m = compileKeyFilter('(a+)+$');
    const t = Date.now();
    expect(m(`${'a'.repeat(50_000)}!`)).toBe(false);
    expect(Date.now() - t).toBeLessThan(2000);
  });

  it('agrees with a start-anchored JS regex on simple literal prefixes', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z/]{0,6}$/), fc.string({ maxLength: 20 }), (prefix, key) => {
        const escaped = prefix.replace(/[/]/g, '\\/');
        expect(compileKeyFilter(escaped || '')(key)).toBe(key.startsWith(prefix));
      }),
    );
  });
});

describe('prefix and page size rules', () => {
  it('normalises prefixes to folder form', () => {
    expect(normalizePrefix('a/b')).toBe('a/b/');
    expect(normalizePrefix('a/b//')).toBe('a/b/');
    expect(normalizePrefix('/a')).toBe('a/');
    expect(normalizePrefix('')).toBe('');
    expect(normalizePrefix(null)).toBe('');
    expect(normalizePrefix('/')).toBe('');
  });
  it('caps page sizes at 1,000', () => {
    expect(pageSizeOf(undefined)).toBe(1000);
    expect(pageSizeOf(5000)).toBe(1000);
    expect(pageSizeOf(10)).toBe(10);
    expect(pageSizeOf(0)).toBe(1000);
  });
});
