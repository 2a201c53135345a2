/**
 * Token authentication (`Authorization: Token <token>`), done in a handler middleware rather than
 * an API Gateway Lambda authorizer: the local server runs the same handlers without API Gateway,
 * tenancy checks need the organization inside the handler anyway, and it saves one Lambda
 * invocation per cold request. Lookups are cached in memory for a minute (positive results only,
 * so a newly minted token works at once), per app.
 */
import { AuthError } from '../errors';
import { hashToken } from '../api/tokens';
import type { Db } from '../db/repo-common';
import { getToken } from '../db/repo-orgs';
import type { HttpRequest } from './types';

/** Who is calling: every stored record is scoped to `orgId`. */
export interface Principal {
  orgId: string;
  userId: number;
}

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 1_000;

/** The token of an `Authorization` header (`Token x` or `Bearer x`), or undefined. */
export function tokenFromHeader(value: string | undefined): string | undefined {
  const m = /^\s*(Token|Bearer)\s+(\S+)\s*$/i.exec(value ?? '');
  return m?.[2];
}

/** Resolves the caller of a request; see {@link createTokenAuthenticator}. */
export type Authenticate = (req: HttpRequest) => Promise<Principal>;

/**
 * An authenticator over `db` with its own token cache (one per app: a warm Lambda looks a token
 * up once a minute). The returned function throws AuthError (401) when the header is missing or
 * the token unknown.
 */
export function createTokenAuthenticator(db: Db, now: () => number = Date.now): Authenticate {
  const cache = new Map<string, { principal: Principal; expires: number }>();
  return async (req) => {
    const token = tokenFromHeader(req.headers.authorization);
    if (!token) throw new AuthError('Authentication credentials were not provided.');
    const hash = hashToken(token);
    const t = now();
    const hit = cache.get(hash);
    if (hit && hit.expires > t) return hit.principal;
    const item = await getToken(db, hash);
    if (!item) throw new AuthError('Invalid token.');
    const principal = { orgId: item.orgId, userId: item.userId };
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(hash, { principal, expires: t + CACHE_TTL_MS });
    return principal;
  };
}
