/**
 * The storage provider contract: one interface, one implementation file per backend under
 * `shared/storage/providers/`. Sync lists and reads through it, URI resolution presigns and
 * streams through it, export writes and deletes through it.
 *
 * Invariants every provider keeps (proven by test/contract/provider-contract.ts):
 * - `list` streams pages of at most 1,000 entries and never holds a whole listing in memory;
 *   keys come in the backend's lexicographic order where it has one (S3, GCS, Azure; see `ordered`).
 * - Keys are plain object keys (no URL encoding); keys ending in `/` are never listed.
 * - Errors are `StorageError` with a secret-free, specific message.
 * - Every network call is bounded by a timeout.
 */
import type { Readable } from 'node:stream';

export type StorageType = 's3' | 's3s' | 'gcs' | 'azure' | 'azure_spi' | 'redis' | 'localfiles';
export const STORAGE_TYPES: readonly StorageType[] = ['s3', 's3s', 'gcs', 'azure', 'azure_spi', 'redis', 'localfiles'];

/** Source (import) or target (export). */
export type StorageRole = 'import' | 'export';

/** One listed object. */
export interface ObjectEntry {
  key: string;
  size?: number;
  /** ETag, generation, version or mtime-based tag: changes when the content changes. */
  etag?: string;
  lastModified?: Date;
}

export interface ListOptions {
  /** Resume after this opaque token (returned as `ListPage.nextToken`). */
  startToken?: string;
  /**
   * Ordered providers: list only keys ordered strictly after this string (UTF-8 byte order),
   * which need not be a key (a probe point or a folder such as `b/` works). Ignored once a
   * `startToken` is given (the token already lies past it). Unordered providers ignore it.
   */
  startAfter?: string;
  /**
   * Ordered providers: list only keys ordered at or before this string (inclusive), and stop
   * listing after the first page that reaches past it. Together with `startAfter` a range is the
   * half-open interval (startAfter, endAt]: ranges split at one string join without a gap or an
   * overlap. Unordered providers ignore it.
   */
  endAt?: string;
  /** Max entries per page; providers cap it at 1,000. */
  pageSize?: number;
  signal?: AbortSignal;
}

export interface ListPage {
  entries: ObjectEntry[];
  /** Opaque token to resume the listing after this page; undefined on the last page. */
  nextToken?: string;
  /** Local files: files of this page left out because they have more than one hard link. */
  hardLinksSkipped?: number;
}

export interface ReadOptions {
  /** Fail with StorageError('too_large') when the object is larger (bytes). */
  maxBytes?: number;
  /** Byte range, inclusive, as in HTTP Range. */
  range?: { start: number; end?: number };
  signal?: AbortSignal;
}

export interface ReadResult {
  body: Readable;
  /** Size of the returned body (the range length for ranged reads) when known. */
  contentLength?: number;
  /** Full object size when known. */
  totalSize?: number;
  contentType?: string;
  etag?: string;
  lastModified?: Date;
  /** Present for ranged reads: the satisfied range. */
  range?: { start: number; end: number };
}

/** One notified key of a subscription. */
export interface KeyChange {
  key: string;
  kind: 'created' | 'removed';
}

/** A running subscription. */
export interface Subscription {
  close(): Promise<void>;
}

export interface HeadResult {
  size: number;
  contentType?: string;
  etag?: string;
  lastModified?: Date;
}

export interface WriteOptions {
  contentType?: string;
}

/** The backend-neutral operations. */
export interface StorageProvider {
  readonly type: StorageType;
  /** `s3`, `gs`, `azure-blob`, `azure-spi`, `redis`, `localfiles`: how task data points at objects. */
  readonly scheme: string;
  /** bucket / container / redis db / local path, as it appears after `scheme://`. */
  readonly bucket: string;
  /**
   * True when `list` returns keys in lexicographic (UTF-8 byte) order, as S3, GCS and Azure
   * guarantee and the sorted local-files walk does. Redis SCAN has no order (false): a resumed
   * listing is then at-least-once and callers de-duplicate by key.
   */
  readonly ordered: boolean;
  /**
   * True when the backend itself starts a listing at `ListOptions.startAfter` (S3 `StartAfter`,
   * GCS `startOffset`, the local walk's skipping), so a range costs its own keys only; false (or
   * absent) when the range is honoured by skipping keys client-side from the prefix's start
   * (Azure: List Blobs has no start key, and its marker is opaque). Sync partitions only
   * listings of providers that seek.
   */
  readonly seeks?: boolean;

  /** Pages of keys under the configured prefix, honouring recursive_scan and regex_filter. */
  list(options?: ListOptions): AsyncIterable<ListPage>;
  /** One object as a stream. NotFound → StorageError('not_found'). */
  read(key: string, options?: ReadOptions): Promise<ReadResult>;
  /** Metadata of one object. */
  head(key: string): Promise<HeadResult>;
  /**
   * Metadata of many selected keys at once, where one listing call costs less than a HEAD per key
   * (S3: a bounded listing of the keys' range). A key missing from the result does not exist;
   * a failure of the backend throws. Absent: callers HEAD each key.
   */
  lookup?(keys: string[]): Promise<Map<string, HeadResult>>;
  /**
   * True when `list` would return `key` (prefix, `recursive_scan`, `regex_filter`, folder
   * placeholders): a notified key must pass the same rule before event sync imports it.
   */
  selects(key: string): boolean;
  /**
   * Why this storage cannot deliver object notifications (a server setting that forbids them),
   * or undefined when it can. Absent: nothing to check beyond the type's `eventSync` capability.
   */
  eventSyncProblem?(): Promise<string | undefined>;
  /**
   * Long-lived change notifications of a storage whose type declares `eventSync: "subscriber"`
   * (the local runtime runs them): `onChange` gets the changed keys in batches as they come (a
   * key may be reported as "created" when it was removed: event sync looks every key up), `onError`
   * once when the subscription broke (the caller subscribes again later).
   */
  subscribe?(onChange: (changes: KeyChange[]) => void, onError: (e: Error) => void): Promise<Subscription>;
  /**
   * A GET URL valid for `ttlSeconds`, fetchable by a browser as is (no double encoding).
   * Local files return a service-relative `/data/local-files/?d=` URL.
   */
  presign(key: string, ttlSeconds: number, options?: { contentType?: string }): Promise<string>;
  write(key: string, body: string | Buffer, options?: WriteOptions): Promise<void>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Checks credentials and that the bucket/container/db/path exists and can be listed under the
   * prefix. Throws StorageError with a specific reason.
   */
  validate(role: StorageRole): Promise<void>;
  /** Releases sockets/connections (Redis). */
  close(): Promise<void>;
}

/**
 * A storage's configuration as the core sees it: the stored fields of a storage of one type,
 * with secrets decrypted. Field names are Label Studio's (`aws_access_key_id`, `container`, ...).
 */
export interface StorageConfig {
  type: StorageType;
  role: StorageRole;
  /**
   * Organization owning the storage (not a field: set by whoever builds the config from a stored
   * storage or a request). Decides which identity the provider may sign with.
   */
  orgId?: string;
  prefix?: string | null;
  regex_filter?: string | null;
  recursive_scan?: boolean | null;
  use_blob_urls?: boolean | null;
  presign?: boolean | null;
  presign_ttl?: number | null;
  // s3 / s3s
  bucket?: string | null;
  region_name?: string | null;
  s3_endpoint?: string | null;
  aws_access_key_id?: string | null;
  aws_secret_access_key?: string | null;
  aws_session_token?: string | null;
  aws_sse_kms_key_id?: string | null;
  role_arn?: string | null;
  external_id?: string | null;
  // gcs
  google_application_credentials?: string | null;
  google_project_id?: string | null;
  gcs_endpoint?: string | null;
  // azure / azure_spi
  container?: string | null;
  account_name?: string | null;
  account_key?: string | null;
  tenant_id?: string | null;
  client_id?: string | null;
  client_secret?: string | null;
  azure_endpoint?: string | null;
  // redis
  host?: string | null;
  port?: string | number | null;
  db?: number | null;
  password?: string | null;
  // redis and localfiles
  path?: string | null;
  [extra: string]: unknown;
}
