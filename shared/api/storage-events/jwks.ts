/**
 * A cached JSON Web Key Set (Google's OIDC signing keys by default). Keys are fetched with a
 * timeout, kept for the response's `Cache-Control: max-age` (bounded), and refetched early at most
 * once per `minRefetchMs` when a token names an unknown `kid` (Google rotates keys and publishes
 * the new one before signing with it).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { UpstreamError } from '../../errors';

/** Where the keys come from and how long they are trusted. */
export interface JwksOptions {
  url: string;
  /** Per fetch (default 5 s): a push request must not wait on a stalled key server. */
  timeoutMs?: number;
  /** Least time between two fetches for an unknown kid (default 60 s), against kid flooding. */
  minRefetchMs?: number;
  now?: () => number;
  fetchImpl?: typeof fetch;
}

/** Looks up a verification key by `kid`; undefined when the set has none. */
export type KeyLookup = (kid: string) => Promise<KeyObject | undefined>;

const DEFAULT_TTL_MS = 60 * 60_000;
const MAX_TTL_MS = 24 * 60 * 60_000;
const MIN_TTL_MS = 60_000;

interface CachedSet {
  keys: Map<string, KeyObject>;
  expires: number;
  fetchedAt: number;
}

function ttlOf(cacheControl: string | null): number {
  const m = /max-age=(\d+)/i.exec(cacheControl ?? '');
  const ms = m ? Number(m[1]) * 1000 : DEFAULT_TTL_MS;
  return Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, ms));
}

/** RSA signing keys of a JWKS document; other key types and uses are skipped. */
function parseKeys(doc: unknown): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  const list = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) return out;
  for (const jwk of list as Record<string, unknown>[]) {
    if (jwk?.kty !== 'RSA' || typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    try {
      out.set(jwk.kid, createPublicKey({ key: jwk as never, format: 'jwk' }));
    } catch {
      // A malformed key is unusable; the others still verify.
    }
  }
  return out;
}

/**
 * A key lookup over the set at `opts.url`, cached per returned function (one per app).
 * @throws UpstreamError (424; Pub/Sub retries) when the key server cannot be reached or answers non-2xx
 */
export function createJwksLookup(opts: JwksOptions): KeyLookup {
  const now = opts.now ?? Date.now;
  const doFetch = opts.fetchImpl ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const minRefetchMs = opts.minRefetchMs ?? 60_000;
  let cached: CachedSet | undefined;
  let inflight: Promise<CachedSet> | undefined;

  const load = (): Promise<CachedSet> =>
    (inflight ??= (async () => {
      try {
        const res = await doFetch(opts.url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
        if (!res.ok) throw new UpstreamError(`OIDC key server answered ${res.status}.`);
        const t = now();
        cached = { keys: parseKeys(await res.json()), expires: t + ttlOf(res.headers.get('cache-control')), fetchedAt: t };
        return cached;
      } catch (e) {
        if (e instanceof UpstreamError) throw e;
        throw new UpstreamError('OIDC key server is unreachable.', { cause: e });
      } finally {
        inflight = undefined;
      }
    })());

  return async (kid) => {
    let set = cached && cached.expires > now() ? cached : await load();
    if (!set.keys.has(kid) && now() - set.fetchedAt >= minRefetchMs) set = await load();
    return set.keys.get(kid);
  };
}
