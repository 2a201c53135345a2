/**
 * Streams one object through the service (presign = false): Range rewritten and capped per
 * runtime, Content-Type fixed up, conditional GET, and failures of the store mapped to 424.
 * Exactly one call to the store per request (`head` for HEAD, `read` otherwise); the body is
 * returned as a Readable and never buffered here.
 */
import type { Readable } from 'node:stream';
import { NotFoundError, PayloadTooLargeError, StorageError, UpstreamError } from '../errors';
import type { HttpResponse } from '../http/types';
import type { StorageProvider } from '../storage/types';
import { effectiveContentType } from './content-type';
import { PROXY_MAX_RANGE_BYTES, PROXY_MAX_WHOLE_BYTES, parseRange, rewriteRange, type ProxyRuntime } from './range';

/** Label Studio's RESOLVER_PROXY_CACHE_TIMEOUT header. */
export const PROXY_CACHE_CONTROL = 'private, max-age=3600, must-revalidate';

export interface ProxyRequest {
  method: string;
  /** The object key inside the provider's bucket (verbatim, never URL-decoded). */
  key: string;
  /** Name used for the content-type guess (the URI). */
  name: string;
  range?: string;
  ifNoneMatch?: string;
  runtime: ProxyRuntime;
}

/** `"<etag>"` as sent to clients (the provider's tag, quoted once). */
function quoteEtag(etag: string | undefined): string | undefined {
  if (!etag) return undefined;
  const bare = etag.replace(/^W\//, '').replace(/^"|"$/g, '');
  return `"${bare}"`;
}

/** Whether an If-None-Match header lists `etag` (or `*`). Weak comparison, as for GET. */
export function etagMatches(header: string | undefined, etag: string | undefined): boolean {
  if (!header || !etag) return false;
  const want = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === want;
  });
}

function storeFailure(e: unknown): Error {
  if (e instanceof StorageError && e.code === 'not_found') return new NotFoundError('Object not found in storage.', { cause: e });
  const detail = e instanceof Error ? e.message : String(e);
  return new UpstreamError(detail, { cause: e });
}

/**
 * Resolves once the stream has produced its first chunk (which is pushed back) or ended, so a
 * store that fails right away still yields a 424 instead of a 200 with a broken body.
 */
async function firstChunk(body: Readable): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onReadable = () => {
      done();
      resolve();
    };
    const onEnd = () => {
      done();
      resolve();
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    if (body.readableLength > 0 || body.readableEnded) return resolve();
    body.once('readable', onReadable);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}

/** Headers for serving user-controlled bytes from the service's origin (proxy and local files). */
export const UNTRUSTED_CONTENT_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; media-src data:; sandbox",
};

function commonHeaders(contentType: string, etag: string | undefined, lastModified: Date | undefined): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': contentType,
    'accept-ranges': 'bytes',
    'cache-control': PROXY_CACHE_CONTROL,
    // Bucket content is user-controlled: opened directly on our origin, HTML/SVG must not run
    // scripts (media tags and fetch() are unaffected), nor be sniffed into something runnable.
    ...UNTRUSTED_CONTENT_HEADERS,
  };
  if (etag) h.etag = etag;
  if (lastModified) h['last-modified'] = lastModified.toUTCString();
  return h;
}

/**
 * Answers a proxied GET/HEAD of `req.key` from `provider`.
 * @throws NotFoundError when the object is missing
 * @throws UpstreamError (424) when the store fails before the first byte
 * @throws PayloadTooLargeError when an un-ranged object exceeds what the runtime can return
 */
export async function proxyObject(provider: StorageProvider, req: ProxyRequest): Promise<HttpResponse> {
  if (req.method === 'HEAD') {
    let h;
    try {
      h = await provider.head(req.key);
    } catch (e) {
      throw storeFailure(e);
    }
    const etag = quoteEtag(h.etag);
    const headers = commonHeaders(effectiveContentType(h.contentType, req.name), etag, h.lastModified);
    if (!req.range && etagMatches(req.ifNoneMatch, etag)) return { statusCode: 304, headers: pick304(headers) };
    headers['content-length'] = String(h.size);
    return { statusCode: 200, headers };
  }

  const max = PROXY_MAX_RANGE_BYTES[req.runtime];
  const rangeHeader = req.range ? rewriteRange(req.range, max, req.runtime === 'aws') : undefined;
  const range = rangeHeader ? parseRange(rangeHeader) : undefined;
  let r;
  try {
    r = await provider.read(req.key, { range, maxBytes: Number.MAX_SAFE_INTEGER });
  } catch (e) {
    throw storeFailure(e);
  }
  const etag = quoteEtag(r.etag);
  const headers = commonHeaders(effectiveContentType(r.contentType, req.name), etag, r.lastModified);
  if (!req.range && etagMatches(req.ifNoneMatch, etag)) {
    r.body.destroy();
    return { statusCode: 304, headers: pick304(headers) };
  }
  if (!r.range && r.contentLength !== undefined && r.contentLength > PROXY_MAX_WHOLE_BYTES[req.runtime]) {
    r.body.destroy();
    throw new PayloadTooLargeError(
      `Object is ${r.contentLength} bytes; this deployment returns at most ${PROXY_MAX_WHOLE_BYTES[req.runtime]} bytes per response. Request it with a Range header or enable presign on the storage.`,
    );
  }
  try {
    await firstChunk(r.body);
  } catch (e) {
    r.body.destroy();
    throw storeFailure(e);
  }
  if (r.contentLength !== undefined) headers['content-length'] = String(r.contentLength);
  if (r.range) {
    headers['content-range'] = `bytes ${r.range.start}-${r.range.end}/${r.totalSize ?? '*'}`;
    return { statusCode: 206, headers, body: r.body };
  }
  return { statusCode: 200, headers, body: r.body };
}

function pick304(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { 'cache-control': h['cache-control'] };
  if (h.etag) out.etag = h.etag;
  if (h['last-modified']) out['last-modified'] = h['last-modified'];
  return out;
}
