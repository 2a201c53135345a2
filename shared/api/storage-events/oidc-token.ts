/**
 * Verification of a Google-signed OIDC ID token (what a Pub/Sub push subscription with
 * `--push-auth-service-account` sends as `Authorization: Bearer <jwt>`), with node:crypto: RS256
 * only (Google signs ID tokens with RS256; accepting the header's `alg` as given would allow
 * `none` or HMAC-with-the-public-key forgeries), signature, issuer, audience, expiry, and the
 * service-account email. A library (jose) would add a dependency for one algorithm we pin anyway.
 */
import { verify } from 'node:crypto';
import { AuthError, ForbiddenError } from '../../errors';
import type { KeyLookup } from './jwks';

/** Issuers of Google ID tokens (both forms occur). */
export const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'] as const;

/** Clock skew tolerated on `exp`, `iat` and `nbf`. */
const SKEW_SECONDS = 300;

/** The claims a push token carries that we check. */
export interface PushClaims {
  iss: string;
  aud: string;
  email?: string;
  email_verified?: boolean;
  exp: number;
  iat?: number;
  nbf?: number;
  sub?: string;
}

/** What a token must say. */
export interface TokenExpectations {
  audience: string;
  /** The service account Pub/Sub signs for; compared case-insensitively (emails are). */
  email: string;
  issuers?: readonly string[];
  now?: () => number;
}

function decodePart(part: string, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new AuthError(`Malformed token ${what}.`);
}

/**
 * Verifies the signature of a compact JWS with the key its `kid` names.
 * @returns the payload claims (not yet checked)
 * @throws AuthError for a malformed token, another algorithm, an unknown kid or a bad signature
 * @throws UpstreamError when the key set cannot be fetched
 */
export async function verifySignature(token: string, keyFor: KeyLookup): Promise<Record<string, unknown>> {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new AuthError('Malformed token.');
  const header = decodePart(parts[0], 'header');
  if (header.alg !== 'RS256') throw new AuthError('Token must be signed with RS256.');
  if (typeof header.kid !== 'string' || !header.kid) throw new AuthError('Token has no key id.');
  const key = await keyFor(header.kid);
  if (!key) throw new AuthError('Token is signed with an unknown key.');
  const ok = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2], 'base64url'));
  if (!ok) throw new AuthError('Token signature is invalid.');
  return decodePart(parts[1], 'payload');
}

/**
 * Checks verified claims against what the storage expects.
 * @throws AuthError (401) for a wrong issuer, audience or an expired / not yet valid token
 * @throws ForbiddenError (403) when the token is valid but for another (or an unverified) email
 */
export function checkClaims(claims: Record<string, unknown>, want: TokenExpectations): PushClaims {
  const nowS = Math.floor((want.now ?? Date.now)() / 1000);
  const c = claims as unknown as PushClaims;
  if (!(want.issuers ?? GOOGLE_ISSUERS).includes(c.iss)) throw new AuthError('Token issuer is not Google.');
  const aud: unknown[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(want.audience)) throw new AuthError('Token audience does not match this endpoint.');
  if (typeof c.exp !== 'number' || c.exp + SKEW_SECONDS < nowS) throw new AuthError('Token has expired.');
  if (typeof c.nbf === 'number' && c.nbf - SKEW_SECONDS > nowS) throw new AuthError('Token is not valid yet.');
  if (typeof c.iat === 'number' && c.iat - SKEW_SECONDS > nowS) throw new AuthError('Token is issued in the future.');
  const email = typeof c.email === 'string' ? c.email.toLowerCase() : '';
  if (email !== want.email.toLowerCase() || c.email_verified !== true) {
    throw new ForbiddenError('Token is not from the service account configured in event_push_service_account.');
  }
  return c;
}

/**
 * The bearer token of a request verified end to end.
 * @throws AuthError / ForbiddenError / UpstreamError as above; AuthError without a bearer token
 */
export async function verifyPushToken(authorization: string | undefined, keyFor: KeyLookup, want: TokenExpectations): Promise<PushClaims> {
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) throw new AuthError('Authentication credentials were not provided.');
  return checkClaims(await verifySignature(m[1], keyFor), want);
}
