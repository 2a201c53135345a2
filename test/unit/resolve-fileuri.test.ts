import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFileUri, decodeFileUriBase64, encodeFileUri } from '../../shared/resolve/fileuri';

describe('fileuri encoding', () => {
  it('matches Label Studio test vectors (URL-safe, padded)', () => {
    expect(encodeFileUri('s3://pytest-s3-images/image1.jpg')).toBe('czM6Ly9weXRlc3QtczMtaW1hZ2VzL2ltYWdlMS5qcGc=');
    expect(encodeFileUri('gs://heartex-test/file.pdf')).toBe('Z3M6Ly9oZWFydGV4LXRlc3QvZmlsZS5wZGY=');
    expect(encodeFileUri('azure-blob://pytest-azure-images/abc')).toBe('YXp1cmUtYmxvYjovL3B5dGVzdC1henVyZS1pbWFnZXMvYWJj');
  });

  it('uses - and _ instead of + and /', () => {
    const e = encodeFileUri('s3://b/>>>???');
    expect(e).not.toMatch(/[+/]/);
    expect(decodeFileUri(e)).toBe('s3://b/>>>???');
  });

  it('accepts unpadded input', () => {
    expect(decodeFileUri('czM6Ly9weXRlc3QtczMtaW1hZ2VzL2ltYWdlMS5qcGc')).toBe('s3://pytest-s3-images/image1.jpg');
  });

  it('is strict: wrong alphabet, bad padding, non-canonical bits, invalid UTF-8 and non-URIs are not base64', () => {
    expect(decodeFileUriBase64('czM6Ly9i+L2s=')).toBeUndefined();
    expect(decodeFileUriBase64('czM6Ly9iL2s===')).toBeUndefined();
    expect(decodeFileUriBase64('czM6Ly9iL2t=')).toBeUndefined(); // last char carries non-zero spare bits
    expect(decodeFileUriBase64(Buffer.from([0xff, 0xfe, 0x3a, 0x2f, 0x2f]).toString('base64url'))).toBeUndefined();
    expect(decodeFileUriBase64(Buffer.from('hello').toString('base64url'))).toBeUndefined();
    expect(decodeFileUriBase64('a')).toBeUndefined();
  });

  it('falls back to URL-unquoting the raw value', () => {
    expect(decodeFileUri('s3://b/k.jpg')).toBe('s3://b/k.jpg');
    expect(decodeFileUri('s3%3A%2F%2Fb%2Fa%20b.jpg')).toBe('s3://b/a b.jpg');
    expect(decodeFileUri('not-a-uri')).toBeUndefined();
    expect(decodeFileUri('%E0%A4%A')).toBeUndefined();
  });

  it('round-trips any URI (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('s3', 'gs', 'azure-blob'), (k, s) => {
        const uri = `${s}://bucket/${k}`;
        const enc = encodeFileUri(uri);
        expect(enc).toMatch(/^[A-Za-z0-9_-]*={0,2}$/);
        expect(enc.length % 4).toBe(0);
        expect(decodeFileUri(enc)).toBe(uri);
        expect(decodeFileUri(enc.replace(/=+$/, ''))).toBe(uri);
      }),
    );
  });
});
