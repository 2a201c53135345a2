/**
 * S3 provider (`s3`, and `s3s` with an assumed role): AWS S3 and S3-compatible endpoints
 * (MinIO, s3rver). Custom endpoints use path-style addressing. One S3Client and one
 * S3RequestPresigner per provider instance; the registry caches instances per credentials, so
 * presigning reuses the signer (~10x faster than getSignedUrl, which rebuilds one per call).
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
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
  StorageType,
  WriteOptions,
} from '../types';
import { compileKeyFilter, isFolderPlaceholder, normalizePrefix, pageSizeOf, type KeyMatcher, selectsKey } from '../key-filter';
import { bareEtag, clipToRange, compareUtf8, describeEndpoint, encodeKeyPath, isNetworkError, mapLimit, streamedReadResult, unreachable } from '../common';
import type { LookupFunction } from 'node:net';
import { recordSignedRequest } from '../../aws/call-recorder';
import { instrumented } from '../../aws/instrument';

export interface S3ProviderOptions {
  type: Extract<StorageType, 's3' | 's3s'>;
  bucket: string;
  prefix?: string | null;
  regexFilter?: string | null;
  recursive: boolean;
  region: string;
  /** Custom endpoint (already checked by the endpoint guard). */
  endpoint?: string;
  /** Static keys, an assumed-role provider, or undefined for the default credential chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  sseKmsKeyId?: string | null;
  maxReadBytes: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Pins connections to the address the endpoint guard checked. */
  lookup?: LookupFunction;
}

/** Builds the S3 client with bounded timeouts and retries. */
export function createS3Client(o: S3ProviderOptions): S3Client {
  const agentOpts = { keepAlive: true, maxSockets: 64, ...(o.lookup ? { lookup: o.lookup } : {}) };
  // Without credentials of its own the default chain signs: the function's role in AWS.
  const identity = o.credentials ? 'storage' : 'role';
  const client = instrumented(new S3Client({
    region: o.region,
    endpoint: o.endpoint,
    forcePathStyle: !!o.endpoint,
    credentials: o.credentials,
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: o.connectTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      httpAgent: new http.Agent(agentOpts),
      httpsAgent: new https.Agent(agentOpts),
    }),
  }), 's3', { identity });
  if (o.endpoint) {
    // Path-style bucket-level requests go out as `/bucket/`; S3-compatible servers such as
    // s3rver sign the path without the trailing slash and answer SignatureDoesNotMatch.
    // Stripping it is harmless for AWS, which treats both paths alike.
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = (args as { request?: { path?: string } }).request;
        if (req?.path && /^\/[^/]+\/$/.test(req.path)) req.path = req.path.slice(0, -1);
        return next(args);
      },
      { step: 'build', name: 'labelsyncStripBucketSlash' },
    );
  }
  return client;
}

interface S3ErrorLike {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Maps an SDK error to a secret-free StorageError; `what` names the bucket or object. */
export function mapS3Error(e: unknown, what: string, endpoint: string, timeoutMs: number): StorageError {
  if (e instanceof StorageError) return e;
  const err = e as S3ErrorLike;
  const name = err?.name ?? err?.Code ?? '';
  const status = err?.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket') return new StorageError('not_found', `bucket '${what.split('/')[0]}' does not exist`, { cause: e });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new StorageError('not_found', `'${what}' does not exist`, { cause: e });
  if (/InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden|ExpiredToken|InvalidToken|AuthorizationHeaderMalformed/.test(name) || status === 403 || status === 401) {
    return new StorageError('access_denied', `access denied to '${what}' (${name || status}): check the credentials and permissions`, { cause: e });
  }
  if (isNetworkError(e)) return unreachable(endpoint, timeoutMs, e);
  if (name === 'CredentialsProviderError') return new StorageError('access_denied', 'no AWS credentials are available', { cause: e });
  return new StorageError('failed', `S3 request for '${what}' failed (${name || status || 'unknown error'})`, { cause: e });
}

/** The S3 StorageProvider. */
export class S3Provider implements StorageProvider {
  readonly type: 's3' | 's3s';
  readonly scheme = 's3';
  readonly ordered = true;
  readonly seeks = true;
  readonly bucket: string;
  readonly client: S3Client;
  private readonly prefix: string;
  private readonly filter: KeyMatcher;
  private readonly endpointText: string;
  private presigner?: S3RequestPresigner;

  constructor(private readonly o: S3ProviderOptions) {
    this.type = o.type;
    this.bucket = o.bucket;
    this.prefix = normalizePrefix(o.prefix);
    this.filter = compileKeyFilter(o.regexFilter);
    this.client = createS3Client(o);
    this.endpointText = describeEndpoint(o.endpoint, `https://s3.${o.region}.amazonaws.com`);
  }

  private fail(e: unknown, what: string): StorageError {
    return mapS3Error(e, what, this.endpointText, this.o.connectTimeoutMs);
  }

  async *list(options: ListOptions = {}): AsyncIterable<ListPage> {
    let token = options.startToken || undefined;
    const pageSize = pageSizeOf(options.pageSize);
    do {
      let out;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix || undefined,
            Delimiter: this.o.recursive ? undefined : '/',
            MaxKeys: pageSize,
            ContinuationToken: token,
            // S3 ignores StartAfter once a ContinuationToken is sent; the token lies past it.
            StartAfter: token ? undefined : options.startAfter || undefined,
          }),
          { abortSignal: options.signal },
        );
      } catch (e) {
        throw this.fail(e, `${this.bucket}/${this.prefix}`);
      }
      const entries: ObjectEntry[] = [];
      for (const c of out.Contents ?? []) {
        if (!c.Key || isFolderPlaceholder(c.Key) || !this.filter(c.Key)) continue;
        entries.push({ key: c.Key, size: c.Size, etag: bareEtag(c.ETag), lastModified: c.LastModified });
      }
      const clipped = clipToRange(entries, options);
      token = out.IsTruncated && !clipped.past ? out.NextContinuationToken : undefined;
      yield { entries: clipped.entries, nextToken: token };
    } while (token);
  }

  selects(key: string): boolean {
    return selectsKey(key, { prefix: this.prefix, recursive: this.o.recursive, filter: this.filter });
  }

  async head(key: string): Promise<HeadResult> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: h.ContentLength ?? 0, contentType: h.ContentType, etag: bareEtag(h.ETag), lastModified: h.LastModified };
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  /**
   * A listing of the keys' range (their common prefix, from just before the first key) instead of
   * a HEAD per key: a burst of notified keys is usually dense in the bucket. At most one page per
   * 1,000 keys plus one is listed, so sparse keys in a large bucket cost no more than their HEADs;
   * keys past where the listing stopped are HEADed.
   */
  async lookup(keys: string[]): Promise<Map<string, HeadResult>> {
    const sorted = [...new Set(keys)].sort(compareUtf8);
    const out = new Map<string, HeadResult>();
    if (sorted.length < LIST_LOOKUP_MIN) return this.headEach(sorted, out);
    const wanted = new Set(sorted);
    const first = sorted[0];
    const last = sorted[sorted.length - 1];
    const maxPages = Math.ceil(sorted.length / 1000) + 1;
    let token: string | undefined;
    let reached = '';
    for (let pages = 0; pages < maxPages; pages++) {
      let res;
      try {
        res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: commonPrefix(first, last) || undefined,
            Delimiter: this.o.recursive ? undefined : '/',
            MaxKeys: 1000,
            ...(token ? { ContinuationToken: token } : { StartAfter: before(first) }),
          }),
        );
      } catch (e) {
        throw this.fail(e, `${this.bucket}/${first}`);
      }
      for (const c of res.Contents ?? []) {
        if (c.Key && wanted.has(c.Key)) out.set(c.Key, { size: c.Size ?? 0, etag: bareEtag(c.ETag), lastModified: c.LastModified });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
      if (!token) return out;
      for (const k of [...(res.Contents ?? []).map((c) => c.Key ?? ''), ...(res.CommonPrefixes ?? []).map((p) => p.Prefix ?? '')]) if (compareUtf8(k, reached) > 0) reached = k;
      if (compareUtf8(reached, last) >= 0) return out;
    }
    return this.headEach(sorted.filter((k) => compareUtf8(k, reached) > 0), out);
  }

  private async headEach(keys: string[], out: Map<string, HeadResult>): Promise<Map<string, HeadResult>> {
    await mapLimit(keys, 16, async (k) => {
      try {
        out.set(k, await this.head(k));
      } catch (e) {
        if (!(e instanceof StorageError && e.code === 'not_found')) throw e;
      }
    });
    return out;
  }

  async read(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    const max = options.maxBytes ?? this.o.maxReadBytes;
    const range = options.range ? `bytes=${options.range.start}-${options.range.end ?? ''}` : undefined;
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }), {
        abortSignal: options.signal,
      });
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
    const body = out.Body as Readable | undefined;
    if (!body) throw new StorageError('failed', `'${this.bucket}/${key}' returned no body`);
    return streamedReadResult(key, body, {
      contentLength: out.ContentLength,
      contentRange: out.ContentRange,
      contentType: out.ContentType,
      etag: out.ETag,
      lastModified: out.LastModified,
    }, max);
  }

  /** SigV4 presigned GET; the key is encoded once per path segment. */
  async presign(key: string, ttlSeconds: number, options: { contentType?: string } = {}): Promise<string> {
    const cfg = this.client.config;
    this.presigner ??= new S3RequestPresigner({ ...cfg });
    const region = await cfg.region();
    let protocol = 'https:';
    let hostname: string;
    let port: number | undefined;
    let path: string;
    const encoded = encodeKeyPath(key);
    if (this.o.endpoint) {
      const u = new URL(this.o.endpoint);
      protocol = u.protocol;
      hostname = u.hostname;
      port = u.port ? Number(u.port) : undefined;
      path = `${u.pathname.replace(/\/+$/, '')}/${encodeURIComponent(this.bucket)}/${encoded}`;
    } else if (this.bucket.includes('.')) {
      // Dotted bucket names break the wildcard TLS certificate of virtual-hosted URLs.
      hostname = `s3.${region}.amazonaws.com`;
      path = `/${this.bucket}/${encoded}`;
    } else {
      hostname = `${this.bucket}.s3.${region}.amazonaws.com`;
      path = `/${encoded}`;
    }
    const query: Record<string, string> = {};
    if (options.contentType) query['response-content-type'] = options.contentType;
    const host = port ? `${hostname}:${port}` : hostname;
    recordSignedRequest(this.client, { action: 's3:GetObject', resource: `arn:aws:s3:::${this.bucket}/${key}` });
    try {
      const signed = await this.presigner.presign(
        { method: 'GET', protocol, hostname, port, path, query, headers: { host } },
        { expiresIn: Math.max(1, Math.min(Math.floor(ttlSeconds), 7 * 24 * 3600)) },
      );
      const qs = Object.entries(signed.query ?? {})
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join('&');
      return `${protocol}//${host}${signed.path}?${qs}`;
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  async write(key: string, body: string | Buffer, options: WriteOptions = {}): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          ...(this.o.sseKmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.o.sseKmsKeyId } : {}),
        }),
      );
    } catch (e) {
      throw this.fail(e, `${this.bucket}/${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      const err = this.fail(e, `${this.bucket}/${key}`);
      if (err.code === 'not_found' && !/bucket/.test(err.message)) return;
      throw err;
    }
  }

  async validate(role: StorageRole): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      const err = this.fail(e, this.bucket);
      // Label Studio's sentences first: scripts match on them.
      if (err.code === 'not_found') throw new StorageError('not_found', `Cannot find bucket ${this.bucket} in S3 (bucket '${this.bucket}' does not exist)`, { cause: e });
      if (err.code === 'access_denied') throw new StorageError('access_denied', `Cannot connect to S3 ${this.bucket} with specified AWS credentials (${err.message})`, { cause: e });
      throw err;
    }
    let out;
    try {
      out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix || undefined, MaxKeys: 1 }));
    } catch (e) {
      const err = this.fail(e, `${this.bucket}/${this.prefix}`);
      if (err.code === 'access_denied') throw new StorageError('access_denied', `access denied listing '${this.bucket}/${this.prefix}'`, { cause: e });
      throw err;
    }
    if (role === 'import' && this.prefix && !out.KeyCount) {
      throw new StorageError('not_found', `s3://${this.bucket}/${this.o.prefix} not found. No object has the prefix '${this.prefix}'.`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** Below this many keys a lookup HEADs each: one or two HEADs answer faster than a listing. */
const LIST_LOOKUP_MIN = 4;

/** A key listed just before `key` would be (its prefix one character shorter), undefined for none. */
function before(key: string): string | undefined {
  const low = key.length > 1 && key.charCodeAt(key.length - 1) >= 0xdc00 && key.charCodeAt(key.length - 1) <= 0xdfff;
  return key.slice(0, low ? -2 : -1) || undefined;
}

/** The longest common prefix of two keys. */
function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  // Not inside a surrogate pair: the prefix must stay valid UTF-16 (and so valid UTF-8).
  if (i > 0 && i < a.length && a.charCodeAt(i - 1) >= 0xd800 && a.charCodeAt(i - 1) <= 0xdbff) i--;
  return a.slice(0, i);
}
