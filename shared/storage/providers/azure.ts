/**
 * Azure Blob provider: `azure` (account name + key, SAS signed with the key) and `azure_spi`
 * (service principal through a TokenCredential, SAS signed with a cached user delegation key).
 * Custom endpoints (Azurite: `http://127.0.0.1:10000/devstoreaccount1`) are supported.
 * Blob URLs are built here, each key segment encoded once, because the SDK's `getBlobClient`
 * keeps `%xx` sequences of a name as they are (a key `per%cent` would address `per\xCEnt`).
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/identity';
import {
  BlobSASPermissions,
  BlockBlobClient,
  ContainerClient,
  generateBlobSASQueryParameters,
  newPipeline,
  StorageSharedKeyCredential,
  BlobServiceClient,
  type Pipeline,
  type UserDelegationKey,
} from '@azure/storage-blob';
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
import { bareEtag, clipToRange, describeEndpoint, encodeKeyPath, isNetworkError, streamedReadResult, unreachable } from '../common';

export interface AzureProviderOptions {
  type: 'azure' | 'azure_spi';
  container: string;
  accountName: string;
  /** `azure`: the account key. */
  accountKey?: string;
  /** `azure_spi`: the service principal's credential (ClientSecretCredential in production). */
  tokenCredential?: TokenCredential;
  /** Account URL; default `https://<account>.blob.core.windows.net`. */
  endpoint?: string;
  prefix?: string | null;
  regexFilter?: string | null;
  recursive: boolean;
  maxReadBytes: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Pins connections to the address the endpoint guard checked. */
  lookup?: LookupFunction;
  /** Extra trusted CA (PEM) for TLS endpoints with a private CA (Azurite over HTTPS in tests). */
  ca?: string;
  /** SAS service version override (Azurite 3.35 signs user-delegation SAS only as 2025-11-05). */
  sasVersion?: string;
  /** Clock for the delegation-key cache (tests). */
  now?: () => number;
}

const DELEGATION_KEY_LIFETIME_MS = 24 * 3600_000;
const DELEGATION_KEY_REFRESH_MS = 3600_000;

interface AzureErrorLike {
  statusCode?: number;
  code?: string;
  name?: string;
  message?: string;
  /** @azure/identity's AuthenticationError: Azure AD's OAuth error body. */
  errorResponse?: { error?: string; errorDescription?: string };
}

/** Azure AD sign-in error codes (AADSTS…) by the service principal field the user has to fix. */
const AAD_SIGN_IN_CAUSES: { codes: RegExp; cause: string }[] = [
  { codes: /AADSTS(90002|900023|90013)\b/, cause: 'tenant_id names no Azure AD tenant' },
  { codes: /AADSTS(700016|700038)\b/, cause: 'client_id names no application of the tenant' },
  { codes: /AADSTS(7000215|7000222|7000216)\b/, cause: 'client_secret is wrong or expired' },
];

/**
 * The cause of a failed service-principal request that never reached the storage account, or
 * undefined: the Azure SDK refusing a bearer token over plain http, Azure AD out of reach
 * (MSAL reports it as CredentialUnavailableError with `endpoints_resolution_error`), or Azure AD
 * refusing the tenant, client id or secret.
 */
function servicePrincipalError(e: unknown, endpoint: string): StorageError | undefined {
  const err = e as AzureErrorLike;
  const text = `${err?.message ?? ''} ${err?.errorResponse?.error ?? ''} ${err?.errorResponse?.errorDescription ?? ''}`;
  if (/non-TLS|non-https/i.test(text)) {
    return new StorageError('invalid', `azure_spi needs an https endpoint: the Azure SDK refuses to send the service principal's bearer token to ${endpoint} over plain http`, { cause: e });
  }
  if (err?.name === 'CredentialUnavailableError' && /endpoints_resolution_error|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|network/i.test(text)) {
    return new StorageError('unreachable', 'the service principal could not sign in: Azure AD (login.microsoftonline.com) is unreachable from this service', { cause: e });
  }
  if (err?.name !== 'AuthenticationError' && err?.name !== 'CredentialUnavailableError') return undefined;
  const known = AAD_SIGN_IN_CAUSES.find((c) => c.codes.test(text));
  const code = /AADSTS\d+/.exec(text)?.[0] ?? err.errorResponse?.error ?? err.name;
  return new StorageError('access_denied', `the service principal could not sign in: ${known ? known.cause : 'Azure AD refused tenant_id, client_id or client_secret'} (${code})`, { cause: e });
}

/** Maps an Azure SDK error to a secret-free StorageError. */
export function mapAzureError(e: unknown, what: string, endpoint: string, timeoutMs: number): StorageError {
  if (e instanceof StorageError) return e;
  // Before the status mapping: Azure AD answers a wrong secret with 401 too.
  const signIn = servicePrincipalError(e, endpoint);
  if (signIn) return signIn;
  const err = e as AzureErrorLike;
  const code = err?.code ?? '';
  const status = err?.statusCode;
  if (code === 'ContainerNotFound') return new StorageError('not_found', `container '${what.split('/')[0]}' does not exist`, { cause: e });
  if (status === 404 || code === 'BlobNotFound') return new StorageError('not_found', `'${what}' does not exist`, { cause: e });
  if (status === 403 || status === 401 || /Authentication|Authorization/.test(code)) {
    return new StorageError('access_denied', `access denied to '${what}' (${code || status}): check the account credentials and role assignments`, {
      cause: e,
    });
  }
  if (isNetworkError(e) || code === 'REQUEST_SEND_ERROR' || err?.name === 'AbortError') return unreachable(endpoint, timeoutMs, e);
  return new StorageError('failed', `Azure request for '${what}' failed (${code || status || 'unknown error'})`, { cause: e });
}

/** The Azure Blob StorageProvider. */
export class AzureBlobProvider implements StorageProvider {
  readonly type: 'azure' | 'azure_spi';
  readonly scheme: string;
  readonly ordered = true;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly filter: KeyMatcher;
  private readonly pipeline: Pipeline;
  private readonly service: BlobServiceClient;
  private readonly containerClient: ContainerClient;
  private readonly containerUrl: string;
  private readonly sharedKey?: StorageSharedKeyCredential;
  private readonly endpointText: string;
  private delegation?: { key: UserDelegationKey; expiresAt: number };
  private delegationPending?: Promise<UserDelegationKey>;

  constructor(private readonly o: AzureProviderOptions) {
    this.type = o.type;
    this.scheme = o.type === 'azure' ? 'azure-blob' : 'azure-spi';
    this.bucket = o.container;
    this.prefix = normalizePrefix(o.prefix);
    this.filter = compileKeyFilter(o.regexFilter);
    const accountUrl = (o.endpoint ?? `https://${o.accountName}.blob.core.windows.net`).replace(/\/+$/, '');
    this.endpointText = describeEndpoint(accountUrl, accountUrl);
    const credential = o.type === 'azure' ? new StorageSharedKeyCredential(o.accountName, o.accountKey ?? '') : o.tokenCredential;
    if (o.type === 'azure') this.sharedKey = credential as StorageSharedKeyCredential;
    if (!credential) throw new StorageError('invalid', 'azure_spi needs tenant_id, client_id and client_secret');
    this.pipeline = newPipeline(credential, {
      retryOptions: { maxTries: 3, tryTimeoutInMs: o.requestTimeoutMs, retryDelayInMs: 200, maxRetryDelayInMs: 2000 },
    });
    const agentOpts = { keepAlive: true, ...(o.lookup ? { lookup: o.lookup } : {}), ...(o.ca ? { ca: o.ca } : {}) };
    if (o.lookup || o.ca) {
      // The SDK exposes no agent option: a v1 request policy sets the agent on every request,
      // which pins DNS to the checked address and trusts the extra CA.
      const agent = accountUrl.startsWith('https:') ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
      this.pipeline.factories.push({
        create: (next: { sendRequest(r: unknown): Promise<unknown> }) => ({
          sendRequest: (req: { agent?: unknown }) => {
            req.agent = agent;
            return next.sendRequest(req);
          },
        }),
      } as unknown as Pipeline['factories'][number]);
    }
    this.service = new BlobServiceClient(accountUrl, this.pipeline);
    this.containerUrl = `${accountUrl}/${encodeURIComponent(o.container)}`;
    this.containerClient = new ContainerClient(this.containerUrl, this.pipeline);
  }

  private fail(e: unknown, what: string): StorageError {
    return mapAzureError(e, what, this.endpointText, this.o.connectTimeoutMs);
  }

  private blobUrl(key: string): string {
    return `${this.containerUrl}/${encodeKeyPath(key)}`;
  }

  private blob(key: string): BlockBlobClient {
    return new BlockBlobClient(this.blobUrl(key), this.pipeline);
  }

  async *list(options: ListOptions = {}): AsyncIterable<ListPage> {
    const maxPageSize = pageSizeOf(options.pageSize);
    const settings = { continuationToken: options.startToken || undefined, maxPageSize };
    const opts = { prefix: this.rangePrefix(options) || undefined, abortSignal: options.signal };
    const pages = this.o.recursive
      ? this.containerClient.listBlobsFlat(opts).byPage(settings)
      : this.containerClient.listBlobsByHierarchy('/', opts).byPage(settings);
    const it = pages[Symbol.asyncIterator]();
    for (;;) {
      let r;
      try {
        r = await it.next();
      } catch (e) {
        throw this.fail(e, `${this.o.container}/${this.prefix}`);
      }
      if (r.done) return;
      const page = r.value;
      const entries: ObjectEntry[] = [];
      for (const b of page.segment.blobItems) {
        if (isFolderPlaceholder(b.name) || !this.filter(b.name)) continue;
        entries.push({ key: b.name, size: b.properties.contentLength, etag: bareEtag(b.properties.etag), lastModified: b.properties.lastModified });
      }
      const clipped = clipToRange(entries, options);
      const nextToken = clipped.past ? undefined : page.continuationToken || undefined;
      yield { entries: clipped.entries, nextToken };
      if (!nextToken) return;
    }
  }

  selects(key: string): boolean {
    return selectsKey(key, { prefix: this.prefix, recursive: this.o.recursive, filter: this.filter });
  }

  /**
   * The prefix a range is listed under. List Blobs has no start key (its marker is opaque and its
   * format undocumented), so a range is listed from the longest prefix every key of
   * (startAfter, endAt] shares, and the keys before `startAfter` are skipped client-side. The
   * prefix is narrowed only in recursive listings: a hierarchy listing lists one folder level.
   */
  private rangePrefix(o: ListOptions): string {
    if (!this.o.recursive || o.startAfter === undefined || o.endAt === undefined) return this.prefix;
    let i = 0;
    while (i < o.startAfter.length && i < o.endAt.length && o.startAfter[i] === o.endAt[i]) i++;
    const shared = o.startAfter.slice(0, i);
    return shared.startsWith(this.prefix) ? shared : this.prefix;
  }

  async head(key: string): Promise<HeadResult> {
    try {
      const p = await this.blob(key).getProperties();
      return { size: p.contentLength ?? 0, contentType: p.contentType, etag: bareEtag(p.etag), lastModified: p.lastModified };
    } catch (e) {
      throw this.fail(e, `${this.o.container}/${key}`);
    }
  }

  async read(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    const max = options.maxBytes ?? this.o.maxReadBytes;
    const offset = options.range?.start ?? 0;
    const count = options.range ? (options.range.end === undefined ? undefined : options.range.end - options.range.start + 1) : undefined;
    let res;
    try {
      res = await this.blob(key).download(offset, count, { abortSignal: options.signal, maxRetryRequests: 2 });
    } catch (e) {
      throw this.fail(e, `${this.o.container}/${key}`);
    }
    const body = res.readableStreamBody as Readable | undefined;
    if (!body) throw new StorageError('failed', `'${this.o.container}/${key}' returned no body`);
    const result = streamedReadResult(key, body, {
      contentLength: res.contentLength,
      contentRange: res.contentRange,
      contentType: res.contentType,
      etag: res.etag,
      lastModified: res.lastModified,
    }, max);
    return { ...result, range: options.range ? result.range : undefined };
  }

  /** A user delegation key, cached for a day and refreshed when less than an hour is left. */
  private async delegationKey(): Promise<UserDelegationKey> {
    const now = (this.o.now ?? Date.now)();
    if (this.delegation && this.delegation.expiresAt - now > DELEGATION_KEY_REFRESH_MS) return this.delegation.key;
    this.delegationPending ??= (async () => {
      try {
        const startsOn = new Date(now - 5 * 60_000);
        const expiresOn = new Date(now + DELEGATION_KEY_LIFETIME_MS);
        const key = await this.service.getUserDelegationKey(startsOn, expiresOn);
        this.delegation = { key, expiresAt: expiresOn.getTime() };
        return key;
      } catch (e) {
        throw this.fail(e, 'user delegation key');
      } finally {
        this.delegationPending = undefined;
      }
    })();
    return this.delegationPending;
  }

  /** SAS URL with read permission; account-key SAS or user-delegation SAS. */
  async presign(key: string, ttlSeconds: number, options: { contentType?: string } = {}): Promise<string> {
    const now = (this.o.now ?? Date.now)();
    const values = {
      containerName: this.o.container,
      blobName: key,
      permissions: BlobSASPermissions.parse('r'),
      startsOn: new Date(now - 5 * 60_000), // clock skew
      expiresOn: new Date(now + Math.max(1, ttlSeconds) * 1000),
      contentType: options.contentType,
      ...(this.o.sasVersion ? { version: this.o.sasVersion } : {}),
    };
    let sas: string;
    if (this.sharedKey) {
      sas = generateBlobSASQueryParameters(values, this.sharedKey).toString();
    } else {
      const udk = await this.delegationKey();
      sas = generateBlobSASQueryParameters(values, udk, this.o.accountName).toString();
    }
    return `${this.blobUrl(key)}?${sas}`;
  }

  async write(key: string, body: string | Buffer, options: WriteOptions = {}): Promise<void> {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      await this.blob(key).upload(buf, buf.length, { blobHTTPHeaders: { blobContentType: options.contentType } });
    } catch (e) {
      throw this.fail(e, `${this.o.container}/${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.blob(key).deleteIfExists();
    } catch (e) {
      throw this.fail(e, `${this.o.container}/${key}`);
    }
  }

  async validate(role: StorageRole): Promise<void> {
    try {
      await this.containerClient.getProperties();
    } catch (e) {
      const err = this.fail(e, this.o.container);
      // Label Studio's sentence first: scripts match on it.
      if (err.code === 'not_found') throw new StorageError('not_found', `Container not found: ${this.o.container} (container '${this.o.container}' does not exist)`, { cause: e });
      throw err;
    }
    let first;
    try {
      first = await this.containerClient.listBlobsFlat({ prefix: this.prefix || undefined }).byPage({ maxPageSize: 1 }).next();
    } catch (e) {
      const err = this.fail(e, `${this.o.container}/${this.prefix}`);
      if (err.code === 'access_denied') throw new StorageError('access_denied', `access denied listing '${this.o.container}/${this.prefix}'`, { cause: e });
      throw err;
    }
    if (role === 'import' && this.prefix && !first.value?.segment.blobItems.length) {
      throw new StorageError('not_found', `${this.scheme}://${this.o.container}/${this.o.prefix} not found. No blob has the prefix '${this.prefix}'.`);
    }
  }

  async close(): Promise<void> {}
}
