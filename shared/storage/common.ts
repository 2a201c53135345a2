/**
 * Helpers every provider shares: run-time settings, the read-size cap, URL encoding of keys and
 * classification of network failures. No backend SDK is imported here.
 */
import { Transform, type Readable } from 'node:stream';
import { StorageError } from '../errors';
import type { ReadOptions, ReadResult } from './types';

/** Limits and paths a provider needs besides its StorageConfig (the app's, from its parsed environment). */
export interface ProviderSettings {
  /** Default `ReadOptions.maxBytes` (LABELSYNC_MAX_TASK_FILE_BYTES, 50 MiB). */
  maxReadBytes: number;
  /** Hosts or CIDRs exempt from the private-network endpoint guard (LABELSYNC_ALLOWED_ENDPOINTS). */
  allowedEndpoints: string[];
  /** LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT. */
  localFilesDocumentRoot: string;
  /**
   * LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: when false, `validate()` of a local files storage
   * fails. Undefined counts as enabled (tests that build providers directly).
   */
  localFilesServingEnabled?: boolean;
  /** LABELSYNC_DATA_DIR: local-files storages must stay clear of it. */
  dataDir?: string;
  /** TCP connect timeout of every backend client. */
  connectTimeoutMs: number;
  /** Per-request timeout of every backend client. */
  requestTimeoutMs: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Encodes a key for a URL path: each `/`-separated segment with encodeURIComponent, so spaces,
 * `+`, `%`, `#`, `?` and unicode survive exactly once-encoded (Label Studio #6472 double encoding).
 * `!'()*` are escaped too because S3's SigV4 canonical path escapes them.
 */
export function encodeKeyPath(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/** The StorageError for an object over the read cap. */
export function tooLarge(key: string, size: number | undefined, max: number): StorageError {
  const sz = size === undefined ? 'more than' : `${size} bytes,`;
  return new StorageError('too_large', `object '${key}' is too large (${sz} limit ${max} bytes)`);
}

/**
 * Passes `body` through while counting bytes; errors the stream with StorageError('too_large')
 * once more than `max` bytes arrived. Used when the backend did not announce a length.
 */
export function capStream(body: Readable, key: string, max: number): Readable {
  let seen = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > max) cb(tooLarge(key, undefined, max));
      else cb(null, chunk);
    },
  });
  body.on('error', (e) => cap.destroy(e));
  cap.on('close', () => {
    if (!body.destroyed) body.destroy();
  });
  return body.pipe(cap);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ESOCKETTIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** True for connection-level failures (refused, timed out, DNS) of any SDK. */
export function isNetworkError(e: unknown): boolean {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const o = cur as { code?: unknown; name?: unknown; cause?: unknown; errno?: unknown };
    if (typeof o.code === 'string' && NETWORK_CODES.has(o.code)) return true;
    if (o.name === 'TimeoutError') return true;
    cur = o.cause;
  }
  return false;
}

/** Host (with port) of an endpoint URL for messages; never includes credentials or query. */
export function describeEndpoint(endpoint: string | undefined, fallback: string): string {
  if (!endpoint) return fallback;
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}`;
  } catch {
    return fallback;
  }
}

/** The standard "could not connect" error. */
export function unreachable(endpoint: string, timeoutMs: number, cause?: unknown): StorageError {
  return new StorageError('unreachable', `could not connect to endpoint ${endpoint} within ${Math.round(timeoutMs / 1000)} s`, {
    cause,
  });
}

/** Strips surrounding quotes of an HTTP ETag. */
export function bareEtag(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * The byte window of a read of an object of `size` bytes (inclusive `end`, clamped to the object),
 * for backends that know the size before reading (GCS, Redis, local files).
 * @throws StorageError('too_large') when the window is larger than `max`
 */
export function readWindow(key: string, size: number, range: ReadOptions['range'], max: number): { start: number; end: number; length: number } {
  const start = range ? range.start : 0;
  const end = range ? Math.min(range.end ?? size - 1, size - 1) : size - 1;
  const length = Math.max(0, end - start + 1);
  if (length > max) throw tooLarge(key, length, max);
  return { start, end, length };
}

/** Response metadata of a streamed GET, as S3 and Azure report it. */
export interface StreamedGet {
  contentLength?: number;
  contentRange?: string;
  contentType?: string;
  etag?: string;
  lastModified?: Date;
}

/**
 * Builds the ReadResult of a streamed GET (S3, Azure): refuses a body over `max` before reading it
 * (or caps the stream when the length is unknown) and reads the satisfied range and the full size
 * from `Content-Range`.
 * @throws StorageError('too_large')
 */
export function streamedReadResult(key: string, body: Readable, got: StreamedGet, max: number): ReadResult {
  if (got.contentLength !== undefined && got.contentLength > max) {
    body.destroy();
    throw tooLarge(key, got.contentLength, max);
  }
  let range: { start: number; end: number } | undefined;
  let total = got.contentLength;
  const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(got.contentRange ?? '');
  if (m) {
    range = { start: Number(m[1]), end: Number(m[2]) };
    total = m[3] === '*' ? undefined : Number(m[3]);
  }
  return {
    body: got.contentLength === undefined ? capStream(body, key, max) : body,
    contentLength: got.contentLength,
    totalSize: total,
    contentType: got.contentType,
    etag: bareEtag(got.etag),
    lastModified: got.lastModified,
    range,
  };
}

/**
 * Iterates `source` one item ahead: the next item (a listing page) is being fetched while the
 * consumer handles the current one, so a consumer that does work per page does not add it to the
 * listing time. An error of the source surfaces where its item would have been. Stopping early
 * returns the source (after the item in flight, which is dropped).
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      // Awaited on the next turn; until then a failure must not count as unhandled.
      next.catch(() => undefined);
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

/** Maps a UTF-16 code unit ≥ 0xD800 so that surrogates (code points ≥ U+10000) sort above U+E000–U+FFFF. */
const utf8Rank = (c: number) => (c >= 0xe000 ? c - 0x800 : c + 0x2000);

/**
 * Orders strings as `Buffer.compare` orders their UTF-8 encodings (code point order). It differs
 * from JS `<` (UTF-16 code units) only where a surrogate pair meets a character in U+E000–U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? utf8Rank(x) - utf8Rank(y) : x - y;
  }
  return a.length - b.length;
}

/**
 * Applies `ListOptions.startAfter` / `endAt` to one listed page: drops keys at or before
 * `startAfter` (backends whose start is inclusive, or that cannot start at a key) and keys after
 * `endAt`. `past` is true once the page reached beyond `endAt`: the listing then stops.
 */
export function clipToRange<T extends { key: string }>(entries: T[], range: { startAfter?: string; endAt?: string }): { entries: T[]; past: boolean } {
  const { startAfter, endAt } = range;
  let past = false;
  const out = entries.filter((e) => {
    if (startAfter !== undefined && compareUtf8(e.key, startAfter) <= 0) return false;
    if (endAt !== undefined && compareUtf8(e.key, endAt) > 0) return (past = true) && false;
    return true;
  });
  return { entries: out, past };
}
