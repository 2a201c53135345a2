import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findUris, replaceUris } from '../../shared/resolve/tokenizer';
import { parseStorageUri } from '../../shared/resolve/schemes';

const uris = (s: string) => findUris(s).map((x) => x.uri);

describe('findUris', () => {
  it('takes a whole value that starts with a scheme as one URI, spaces included', () => {
    expect(uris('s3://b/images/some directory/img.jpg')).toEqual(['s3://b/images/some directory/img.jpg']);
    expect(uris('  gs://b/a b.png  ')).toEqual(['gs://b/a b.png']);
    const [span] = findUris('  gs://b/a b.png  ');
    expect([span.start, span.end]).toEqual([2, 16]);
  });

  it('finds every scheme, including both spellings of the service-principal variant', () => {
    for (const u of ['s3://b/k', 'gs://b/k', 'azure-blob://c/k', 'azure-spi://c/k', 'azure_spi://c/k']) {
      expect(uris(`see "${u}" here`)).toEqual([u]);
    }
  });

  it('finds two quoted URIs inside HTML among other attributes', () => {
    const html = `<img src="s3://bucket/a.jpg" alt="x"/><embed src='gs://heartex-test/file.pdf'/>`;
    expect(uris(html)).toEqual(['s3://bucket/a.jpg', 'gs://heartex-test/file.pdf']);
  });

  it('keeps = and spaces inside quoted URIs (Label Studio misses them)', () => {
    expect(uris(`<img src="s3://b/k=v/my file.jpg" width="10">`)).toEqual(['s3://b/k=v/my file.jpg']);
  });

  it('finds unquoted URIs up to whitespace, angle brackets or quotes', () => {
    expect(uris('first s3://b/one.jpg then gs://c/two=2.png\nend')).toEqual(['s3://b/one.jpg', 'gs://c/two=2.png']);
    expect(uris('<p>s3://b/x.jpg</p>')).toEqual(['s3://b/x.jpg']);
  });

  it('requires a token boundary before the scheme', () => {
    expect(uris('see xs3://b/k and mygs://b/k and a.s3://b/k')).toEqual([]);
    expect(uris('http://example.com/a and https://x/y')).toEqual([]);
  });

  it('keeps percent escapes verbatim', () => {
    expect(uris('"s3://b/a%20b%2Bc.jpg"')).toEqual(['s3://b/a%20b%2Bc.jpg']);
  });

  it('finds local-files URLs, relative or with a host, and not lookalikes', () => {
    expect(uris('/data/local-files/?d=dataset1/images/1.jpg')).toEqual(['/data/local-files/?d=dataset1/images/1.jpg']);
    expect(uris('<img src="http://h:8080/data/local-files/?d=a/b.png">')).toEqual(['http://h:8080/data/local-files/?d=a/b.png']);
    expect(uris('x /data/local-files?d=a.png y')).toEqual(['/data/local-files?d=a.png']);
    expect(uris('/data/local-filesX/?d=a /other/data/local-files/?d=b')).toEqual([]);
  });

  it('returns spans in text order without overlaps when both kinds occur', () => {
    const t = `<a href="/data/local-files/?d=x.png">s3://b/data/local-files/?d=y</a>`;
    expect(findUris(t).map((s) => s.kind)).toEqual(['local-files', 'storage']);
  });

  it('returns nothing for strings without a known scheme', () => {
    expect(uris('')).toEqual([]);
    expect(uris('plain text')).toEqual([]);
    expect(uris('ftp://b/k')).toEqual([]);
  });
});

describe('parseStorageUri', () => {
  it('splits bucket and verbatim key, refusing URIs without a key', () => {
    expect(parseStorageUri('s3://b/dir/a b#?.jpg')).toEqual({ scheme: 's3', bucket: 'b', key: 'dir/a b#?.jpg' });
    expect(parseStorageUri('s3://b')).toBeUndefined();
    expect(parseStorageUri('s3://b/')).toBeUndefined();
    expect(parseStorageUri('s3:///k')).toBeUndefined();
    expect(parseStorageUri('ftp://b/k')).toBeUndefined();
  });
});

// Keys as sync writes them: any character but the delimiters of unquoted text.
const keyChar = fc.constantFrom(...'abcXYZ019-_./%+=#?~!$&()*,;:@éü漢😀'.split(''));
const key = fc.array(keyChar, { minLength: 1, maxLength: 30 }).map((a) => a.join(''));
const bucket = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{1,20}$/);
const scheme = fc.constantFrom('s3', 'gs', 'azure-blob', 'azure-spi', 'azure_spi');
const uriArb = fc.tuple(scheme, bucket, key).map(([s, b, k]) => `${s}://${b}/${k}`);
const filler = fc.stringMatching(/^[a-z ,.<>\n]{0,20}$/).map((s) => ` ${s} `);

describe('findUris properties', () => {
  it('finds exactly the unquoted URIs placed between delimiters', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(filler, uriArb), { minLength: 1, maxLength: 5 }), filler, (parts, tail) => {
        const text = 'x' + parts.map(([f, u]) => f + u).join('') + tail;
        const spans = findUris(text);
        expect(spans.map((s) => s.uri)).toEqual(parts.map(([, u]) => u));
        for (const s of spans) expect(text.slice(s.start, s.end)).toBe(s.uri);
      }),
    );
  });

  it('finds quoted URIs with spaces and = intact', () => {
    fc.assert(
      fc.property(uriArb, fc.constantFrom('"', "'"), fc.stringMatching(/^[a-z =]{0,8}$/), (u, q, extra) => {
        const full = u + extra;
        expect(uris(`<img alt="a" src=${q}${full}${q}>`)).toEqual([full]);
      }),
    );
  });

  it('replaceUris with the identity leaves the text unchanged, and replacement keeps the surroundings', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(filler, uriArb), { maxLength: 4 }), (parts) => {
        const text = 'p' + parts.map(([f, u]) => f + u).join('');
        const spans = findUris(text);
        expect(replaceUris(text, spans, (s) => s.uri)).toBe(text);
        const replaced = replaceUris(text, spans, () => 'URL');
        expect(replaced).toBe('p' + parts.map(([f]) => f + 'URL').join(''));
      }),
    );
  });
});
