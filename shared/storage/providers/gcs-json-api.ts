/**
 * The few GCS JSON API calls the gcs provider makes (list, object metadata, media download with
 * Range, media upload, delete, bucket get), over node:http(s) with the provider's own agent.
 *
 * Why not @google-cloud/storage for these: it sends requests through teeny-request → node-fetch,
 * which follows up to 20 redirects and takes no agent from the caller, so a checked endpoint
 * could answer 307 to a refused address and the SDK would go there (and a DNS answer changing
 * after the check would be used). Here the agent's `lookup` answers the checked address and a
 * 3xx is an error: a request never leaves the endpoint that passed the guard.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';

export interface GcsJsonApiOptions {
  /** API root, e.g. `https://storage.googleapis.com` or an emulator's `http://127.0.0.1:4443`. */
  endpoint: string;
  /** Pinned lookup from the endpoint guard (undefined: system DNS, for Google's fixed hosts). */
  lookup?: LookupFunction;
  requestTimeoutMs: number;
  /** Bearer token source; undefined or an empty answer sends no Authorization. */
  token?: () => Promise<string | undefined>;
}

/** A non-2xx answer of the API (or a refused redirect), shaped like the SDK's errors (`code`, `message`). */
export class GcsHttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface GcsRequest {
  method?: 'GET' | 'POST' | 'DELETE';
  /** Path under the API root, already encoded (`/storage/v1/b/<bucket>/o`). */
  path: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  body?: Buffer;
}

const IDEMPOTENT = new Set(['GET', 'DELETE']);
const RETRIES = 2;

function retryable(e: unknown): boolean {
  if (e instanceof GcsHttpError) return e.code === 429 || e.code >= 500;
  const code = (e as { code?: unknown })?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT';
}

/** Reads a whole (small, JSON) body. */
async function readAll(res: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The `error.message` of a GCS error body, or the HTTP status text. */
async function errorOf(res: http.IncomingMessage): Promise<GcsHttpError> {
  const status = res.statusCode ?? 0;
  const text = (await readAll(res).catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 4096);
  let message = res.statusMessage || `HTTP ${status}`;
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof m === 'string') message = m;
  } catch {
    /* not JSON: keep the status text */
  }
  return new GcsHttpError(status, message);
}

/** A GCS JSON API client bound to one endpoint and one agent. */
export class GcsJsonApi {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly o: GcsJsonApiOptions) {
    this.base = new URL(o.endpoint);
    const secure = this.base.protocol === 'https:';
    this.transport = secure ? https : http;
    const agentOptions = { keepAlive: true, ...(o.lookup ? { lookup: o.lookup } : {}) };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  private url(r: GcsRequest): URL {
    const u = new URL(this.base.pathname.replace(/\/+$/, '') + r.path, this.base);
    for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
    return u;
  }

  private async once(r: GcsRequest): Promise<http.IncomingMessage> {
    const token = await this.o.token?.();
    const headers: Record<string, string> = { ...r.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
    if (r.body) headers['content-length'] = String(r.body.length);
    const url = this.url(r);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = this.transport.request(url, { method: r.method ?? 'GET', headers, agent: this.agent }, resolve);
      req.setTimeout(this.o.requestTimeoutMs, () => req.destroy(Object.assign(new Error('network timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(r.body);
    });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400) {
      res.resume();
      // Following would leave the checked endpoint (the target was never guarded).
      throw new GcsHttpError(status, `the endpoint answered a redirect (${status}); redirects are not followed`);
    }
    if (status < 200 || status >= 300) throw await errorOf(res);
    return res;
  }

  /** The response of `r` (2xx only; the caller consumes the body). Idempotent calls retry twice. */
  async request(r: GcsRequest): Promise<http.IncomingMessage> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(r);
      } catch (e) {
        if (attempt >= RETRIES || !IDEMPOTENT.has(r.method ?? 'GET') || !retryable(e)) throw e;
        await new Promise((done) => setTimeout(done, 200 * 2 ** attempt));
      }
    }
  }

  /** The JSON body of `r`; a body that is not JSON is an error (`502`, as the SDK would fail). */
  async json(r: GcsRequest): Promise<Record<string, unknown>> {
    const text = (await readAll(await this.request(r))).toString('utf8');
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      /* below */
    }
    throw new GcsHttpError(502, 'the endpoint did not answer a GCS JSON resource');
  }

  close(): void {
    this.agent.destroy();
  }
}
