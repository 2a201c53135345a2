/**
 * Google Cloud Storage provider (`gcs`): service-account JSON credentials or Application Default
 * Credentials, optional custom API endpoint (emulators). Object calls go through GcsJsonApi
 * (pinned agent, no redirects); the SDK only signs URLs and supplies access tokens. Presigned URLs
 * are V4 signed URLs; with ADC that holds no private key the SDK signs through the IAM
 * Credentials API (signBlob), which needs `iam.serviceAccounts.signBlob` on the service account
 * (see docs/storages.md).
 */
import { createHash } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import { Readable, Transform } from 'node:stream';
import { Storage } from '@google-cloud/storage';
import { StorageError } from '../../errors';
import type {
  HeadResult,
  ListOptions,
  ListPage,
  ObjectEntry,
  ReadOptions,
  ReadResult,
  StorageProvider,
  StorageRole,
  WriteOptions,
} from '../types';
import { compileKeyFilter, isFolderPlaceholder, normalizePrefix, pageSizeOf, type KeyMatcher, selectsKey } from '../key-filter';
import { bareEtag, capStream, clipToRange, describeEndpoint, isNetworkError, readWindow, unreachable } from '../common';
import { GcsHttpError, GcsJsonApi } from './gcs-json-api';

export interface GcsProviderOptions {
  bucket: string;
  prefix?: string | null;
  regexFilter?: string | null;
  recursive: boolean;
  /** Parsed service-account JSON; undefined → ADC. */
  credentials?: Record<string, unknown>;
  projectId?: string;
  /** Custom API endpoint (already checked by the endpoint guard). */
  endpoint?: string;
  /** The guard's pinned lookup for `endpoint`. */
  lookup?: LookupFunction;
  /** Send the credentials' access token (Google's own API hosts only, never an emulator). */
  authenticate: boolean;
  maxReadBytes: number;
  requestTimeoutMs: number;
}

interface GcsErrorLike {
  code?: number | string;
  message?: string;
}

/** Maps a GCS SDK error to a secret-free StorageError. */
export function mapGcsError(e: unknown, what: string, endpoint: string, timeoutMs: number): StorageError {
  if (e instanceof StorageError) return e;
  if (e instanceof GcsHttpError && e.code >= 300 && e.code < 400) {
    return new StorageError('failed', `GCS endpoint ${endpoint} answered a redirect (${e.code}) for '${what}'; redirects are not followed`, { cause: e });
  }
  const err = e as GcsErrorLike;
  const code = typeof err?.code === 'number' ? err.code : Number(err?.code);
  const msg = err?.message ?? '';
  if (code === 404) {
    return /bucket/i.test(msg) && !/object|No such object/i.test(msg)
      ? new StorageError('not_found', `bucket '${what.split('/')[0]}' does not exist`, { cause: e })
      : new StorageError('not_found', `'${what}' does not exist`, { cause: e });
  }
  if (code === 401 || code === 403 || /invalid_grant|unauthorized_client|invalid_client|Could not load the default credentials|private key/i.test(msg)) {
    return new StorageError('access_denied', `access denied to '${what}': check the service account credentials and permissions`, { cause: e });
  }
  if (isNetworkError(e) || /ETIMEDOUT|ECONNREFUSED|ENOTFOUND|socket hang up|network timeout/i.test(msg)) return unreachable(endpoint, timeoutMs, e);
  return new StorageError('failed', `GCS request for '${what}' failed (${Number.isFinite(code) ? code : 'unknown error'})`, { cause: e });
}

/** GCS object metadata as the JSON API returns it (`storage#object`); the fields read here. */
interface GcsObject {
  name: string;
  size?: string;
  generation?: string;
  etag?: string;
  updated?: string;
  contentType?: string;
}

const DEFAULT_ENDPOINT = 'https://storage.googleapis.com';

/**
 * `body` itself when the answer carries no MD5 (composite objects), else a pass-through that
 * fails the stream when the whole-object download does not hash to it (the check the SDK did).
 */
function verifyMd5(body: Readable, md5: string | undefined, key: string): Readable {
  if (!md5) return body;
  const hash = createHash('md5');
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      cb(hash.digest('base64') === md5 ? null : new StorageError('failed', `download of '${key}' does not match its MD5 hash`));
    },
  });
  body.on('error', (e) => check.destroy(e));
  return body.pipe(check);
}

/** The `md5=` part of an `x-goog-hash` header. */
const md5Of = (header: string | string[] | undefined): string | undefined =>
  /(?:^|,)\s*md5=([^,]+)/.exec([header ?? []].flat().join(','))?.[1];

/** Refuses a JSON answer that is not the GCS resource asked for (an internal service's JSON). */
function expectKind(body: Record<string, unknown>, kind: string, endpoint: string): void {
  if (body.kind !== kind) throw new StorageError('invalid', `gcs_endpoint ${endpoint} did not answer a GCS resource (expected ${kind})`);
}

/** The GCS StorageProvider. */
export class GcsProvider implements StorageProvider {
  readonly type = 'gcs' as const;
  readonly scheme = 'gs';
  readonly ordered = true;
  readonly seeks = true;
  readonly bucket: string;
  /** The SDK, only for V4 URL signing and access tokens (it makes no object calls). */
  private readonly storage: Storage;
  private readonly api: GcsJsonApi;
  private readonly prefix: string;
  private readonly filter: KeyMatcher;
  private readonly endpointText: string;

  constructor(private readonly o: GcsProviderOptions) {
    this.bucket = o.bucket;
    this.prefix = normalizePrefix(o.prefix);
    this.filter = compileKeyFilter(o.regexFilter);
    this.storage = new Storage({
      projectId: o.projectId || (o.credentials?.project_id as string | undefined),
      credentials: o.credentials as never,
      apiEndpoint: o.endpoint,
    });
    this.api = new GcsJsonApi({
      endpoint: o.endpoint || DEFAULT_ENDPOINT,
      lookup: o.lookup,
      requestTimeoutMs: o.requestTimeoutMs,
      token: o.authenticate ? async () => (await this.storage.authClient.getAccessToken()) ?? undefined : undefined,
    });
    this.endpointText = describeEndpoint(o.endpoint, DEFAULT_ENDPOINT);
  }

  private fail(e: unknown, what: string): StorageError {
    return mapGcsError(e, what, this.endpointText, this.o.requestTimeoutMs);
  }

  private objectPath(key: string): string {
    return `/storage/v1/b/${encodeURIComponent(this.bucket)}/o/${encodeURIComponent(key)}`;
  }

  /** One page of the objects listing (`storage#objects`). */
  private async listPage(query: Record<string, string | number | undefined>): Promise<{ items: GcsObject[]; nextPageToken?: string }> {
    const body = await this.api.json({ path: `/storage/v1/b/${encodeURIComponent(this.bucket)}/o`, query });
    expectKind(body, 'storage#objects', this.endpointText);
    const items = Array.isArray(body.items) ? (body.items as GcsObject[]).filter((i) => typeof i?.name === 'string') : [];
    return { items, nextPageToken: typeof body.nextPageToken === 'string' ? body.nextPageToken : undefined };
  }

  async *list(options: ListOptions = {}): AsyncIterable<ListPage> {
    let pageToken = options.startToken || undefined;
    const maxResults = pageSizeOf(options.pageSize);
    do {
      let page: Awaited<ReturnType<GcsProvider['listPage']>>;
      try {
        // startOffset is inclusive (the key equal to startAfter is clipped below) and is sent with
        // every page: GCS expects a page token with the query that produced it.
        page = await this.listPage({ prefix: this.prefix, delimiter: this.o.recursive ? undefined : '/', maxResults, pageToken, startOffset: options.startAfter || undefined });
      } catch (e) {
        throw this.fail(e, `${this.bucket}/${this.prefix}`);
      }
      const entries: ObjectEntry[] = [];
      for (const m of page.items) {
        if (isFolderPlaceholder(m.name) || !this.filter(m.name)) continue;
        entries.push({
          key: m.name,
          size: m.size === undefined ? undefined : Number(m.size),
          etag: m.generation !== undefined ? String(m.generation) : bareEtag(m.etag),
          lastModified: m.updated ? new Date(m.updated) : undefined,
        });
      }
      const clipped = clipToRange(entries, options);
      pageToken = clipped.past ? undefined : page.nextPageToken || undefined;
      yield { entries: clipped.entries, nextToken: pageToken };
    } while (pageToken);
  }

  selects(key: string): boolean {
    return selectsKey(key, { prefix: this.prefix, recursive: this.o.recursive, filter: this.filter });
  }

  async head(key: string): Promise<HeadResult> {
    try {
      const m = await this.api.json({ path: this.objectPath(key) });
      expectKind(m, 'storage#object', this.endpointText);
      const o = m as unknown as GcsObject;
      return {
        size: Number(o.size ?? 0),
        contentType: o.contentType,
        etag: o.generation !== undefined ? String(o.generation) : bareEtag(o.etag),
        lastModified: o.updated ? new Date(o.updated) : undefined,
      };
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  /** The media stream of `key` (bytes start..end, or all), of the generation `head` saw. */
  private async media(key: string, etag: string | undefined, window?: { start: number; end: number }): Promise<Readable> {
    // Pin the generation so a concurrent overwrite cannot splice two versions together.
    const generation = etag && /^\d+$/.test(etag) ? etag : undefined;
    const res = await this.api.request({
      path: this.objectPath(key),
      query: { alt: 'media', generation },
      headers: window ? { range: `bytes=${window.start}-${window.end}` } : {},
    });
    return window ? res : verifyMd5(res, md5Of(res.headers['x-goog-hash']), key);
  }

  async read(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    const h = await this.head(key);
    const { start, end, length } = readWindow(key, h.size, options.range, options.maxBytes ?? this.o.maxReadBytes);
    let body: Readable;
    try {
      body = length === 0 ? Readable.from([]) : await this.media(key, h.etag, options.range ? { start, end } : undefined);
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
    // readWindow refused a window over the cap, so capping at its length also honours the cap.
    return {
      body: capStream(body, key, length),
      contentLength: length,
      totalSize: h.size,
      contentType: h.contentType,
      etag: h.etag,
      lastModified: h.lastModified,
      ...(options.range ? { range: { start, end } } : {}),
    };
  }

  /** V4 signed GET URL (max 7 days); signed locally (or by IAM signBlob with ADC), no storage call. */
  async presign(key: string, ttlSeconds: number, options: { contentType?: string } = {}): Promise<string> {
    const ttl = Math.max(1, Math.min(Math.floor(ttlSeconds), 7 * 24 * 3600));
    try {
      const [url] = await this.storage.bucket(this.bucket).file(key).getSignedUrl({
        version: 'v4',
        action: 'read',
        expires: Date.now() + ttl * 1000,
        ...(options.contentType ? { responseType: options.contentType } : {}),
      });
      return url;
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  async write(key: string, body: string | Buffer, options: WriteOptions = {}): Promise<void> {
    try {
      const res = await this.api.request({
        method: 'POST',
        path: `/upload/storage/v1/b/${encodeURIComponent(this.bucket)}/o`,
        query: { uploadType: 'media', name: key },
        headers: { 'content-type': options.contentType ?? 'application/octet-stream' },
        body: typeof body === 'string' ? Buffer.from(body) : body,
      });
      res.resume();
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      (await this.api.request({ method: 'DELETE', path: this.objectPath(key) })).resume();
    } catch (e) {
      if (e instanceof GcsHttpError && e.code === 404) return;
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  /** The bucket resource; any other answer (another service's JSON, a redirect) is refused. */
  private async checkBucket(): Promise<void> {
    try {
      const b = await this.api.json({ path: `/storage/v1/b/${encodeURIComponent(this.bucket)}` });
      if (b.kind !== 'storage#bucket' || b.name !== this.bucket) {
        throw new StorageError('invalid', `gcs_endpoint ${this.endpointText} did not answer a GCS bucket resource for '${this.bucket}'`);
      }
    } catch (e) {
      throw this.fail(e, this.bucket);
    }
  }

  async validate(role: StorageRole): Promise<void> {
    await this.checkBucket();
    let items: GcsObject[];
    try {
      ({ items } = await this.listPage({ prefix: this.prefix, maxResults: 1 }));
    } catch (e) {
      const err = this.fail(e, `${this.bucket}/${this.prefix}`);
      if (err.code === 'access_denied') throw new StorageError('access_denied', `access denied listing '${this.bucket}/${this.prefix}'`, { cause: e });
      throw err;
    }
    if (role === 'import' && this.prefix && items.length === 0) {
      throw new StorageError('not_found', `No blobs found in ${this.bucket}/${this.o.prefix} or prefix doesn't exist`);
    }
  }

  async close(): Promise<void> {
    this.api.close();
  }
}
