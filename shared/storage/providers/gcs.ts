/**
 * Google Cloud Storage provider (`gcs`): service-account JSON credentials or Application Default
 * Credentials, optional custom API endpoint (emulators). Presigned URLs are V4 signed URLs; with
 * ADC that holds no private key the SDK signs through the IAM Credentials API (signBlob), which
 * needs `iam.serviceAccounts.signBlob` on the service account (see docs/storages.md).
 */
import { Readable } from 'node:stream';
import { Storage, type Bucket, type File } from '@google-cloud/storage';
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
import { compileKeyFilter, isFolderPlaceholder, normalizePrefix, pageSizeOf, type KeyMatcher } from '../key-filter';
import { bareEtag, capStream, describeEndpoint, isNetworkError, readWindow, unreachable } from '../common';

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

/** The GCS StorageProvider. */
export class GcsProvider implements StorageProvider {
  readonly type = 'gcs' as const;
  readonly scheme = 'gs';
  readonly ordered = true;
  readonly bucket: string;
  readonly storage: Storage;
  private readonly b: Bucket;
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
      // With a custom endpoint the SDK sends no Authorization (its emulator convention), and its
      // JWT client ignores token_uri, so it could not get a token from an emulator anyway.
      timeout: o.requestTimeoutMs,
      retryOptions: { autoRetry: true, maxRetries: 2, totalTimeout: Math.ceil((o.requestTimeoutMs * 3) / 1000), maxRetryDelay: 4 },
    });
    this.b = this.storage.bucket(o.bucket);
    this.endpointText = describeEndpoint(o.endpoint, 'https://storage.googleapis.com');
  }

  private fail(e: unknown, what: string): StorageError {
    return mapGcsError(e, what, this.endpointText, this.o.requestTimeoutMs);
  }

  private file(key: string): File {
    return this.b.file(key);
  }

  async *list(options: ListOptions = {}): AsyncIterable<ListPage> {
    let pageToken = options.startToken || undefined;
    const maxResults = pageSizeOf(options.pageSize);
    do {
      let files: File[];
      let next: { pageToken?: string } | null | undefined;
      try {
        [files, next] = (await this.b.getFiles({
          prefix: this.prefix || undefined,
          delimiter: this.o.recursive ? undefined : '/',
          maxResults,
          pageToken,
          autoPaginate: false,
        })) as unknown as [File[], { pageToken?: string } | null];
      } catch (e) {
        throw this.fail(e, `${this.bucket}/${this.prefix}`);
      }
      const entries: ObjectEntry[] = [];
      for (const f of files) {
        if (isFolderPlaceholder(f.name) || !this.filter(f.name)) continue;
        const m = f.metadata;
        entries.push({
          key: f.name,
          size: m.size === undefined ? undefined : Number(m.size),
          etag: m.generation !== undefined ? String(m.generation) : bareEtag(m.etag),
          lastModified: m.updated ? new Date(m.updated) : undefined,
        });
      }
      pageToken = next?.pageToken || undefined;
      yield { entries, nextToken: pageToken };
    } while (pageToken);
  }

  async head(key: string): Promise<HeadResult> {
    try {
      const [m] = await this.file(key).getMetadata();
      return {
        size: Number(m.size ?? 0),
        contentType: m.contentType,
        etag: m.generation !== undefined ? String(m.generation) : bareEtag(m.etag),
        lastModified: m.updated ? new Date(m.updated) : undefined,
      };
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  async read(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    const h = await this.head(key);
    const { start, end, length } = readWindow(key, h.size, options.range, options.maxBytes ?? this.o.maxReadBytes);
    // Pin the generation so a concurrent overwrite cannot splice two versions together.
    const f = h.etag && /^\d+$/.test(h.etag) ? this.b.file(key, { generation: Number(h.etag) }) : this.file(key);
    const body: Readable =
      length === 0
        ? Readable.from([])
        : options.range
          ? f.createReadStream({ start, end, validation: false })
          : f.createReadStream({ validation: 'crc32c' });
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

  /** V4 signed GET URL (max 7 days). */
  async presign(key: string, ttlSeconds: number, options: { contentType?: string } = {}): Promise<string> {
    const ttl = Math.max(1, Math.min(Math.floor(ttlSeconds), 7 * 24 * 3600));
    try {
      const [url] = await this.file(key).getSignedUrl({
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
      await this.file(key).save(typeof body === 'string' ? Buffer.from(body) : body, {
        resumable: false,
        contentType: options.contentType,
      });
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.file(key).delete({ ignoreNotFound: true });
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  async validate(role: StorageRole): Promise<void> {
    try {
      const [exists] = await this.b.exists();
      if (!exists) throw new StorageError('not_found', `bucket '${this.bucket}' does not exist`);
    } catch (e) {
      throw this.fail(e, this.bucket);
    }
    let files: File[];
    try {
      [files] = await this.b.getFiles({ prefix: this.prefix || undefined, maxResults: 1, autoPaginate: false });
    } catch (e) {
      const err = this.fail(e, `${this.bucket}/${this.prefix}`);
      if (err.code === 'access_denied') throw new StorageError('access_denied', `access denied listing '${this.bucket}/${this.prefix}'`, { cause: e });
      throw err;
    }
    if (role === 'import' && this.prefix && files.length === 0) {
      throw new StorageError('not_found', `No blobs found in ${this.bucket}/${this.o.prefix} or prefix doesn't exist`);
    }
  }

  async close(): Promise<void> {}
}
