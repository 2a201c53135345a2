/**
 * Signed, expiring media tokens. Browsers load media with plain `<img>`/`<video>` tags that
 * cannot send `Authorization`, so every resolve URL and local-files URL the task API returns
 * carries `&token=<exp>.<sig>`: HMAC-SHA256 (key from `app.signingKey()`, see
 * shared/crypto/signing-key.ts) over the organization, the scope (task id, project id or
 * local-files path) and the exact URI.
 * A token for one task, URI or organization is useless for any other, and an altered or
 * expired one is refused (the HTTP layer turns ForbiddenError into 403).
 *
 * Expiry is rounded down to a quantum (≤ 1 h, ≤ 1/8 of the lifetime) so that repeated task
 * reads return identical URLs and browsers can cache the media.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ForbiddenError } from '../errors';

/** What a token is bound to. `id` is the task or project id, or the local-files `d` path. */
export interface MediaTokenClaim {
  orgId: string;
  scope: 'task' | 'project' | 'local-files';
  id: string | number;
  /** The storage URI (or, for local files, empty: the path is `id`). */
  uri: string;
}

const VERSION = 'v1';

function mac(key: Uint8Array, claim: MediaTokenClaim, exp: number): Buffer {
  // Fields are separated by a byte that cannot occur in an org id, an id or an exp; the URI is
  // last, so no choice of URI can shift another field.
  return createHmac('sha256', key)
    .update(`${VERSION}\u0000${claim.orgId}\u0000${claim.scope}\u0000${claim.id}\u0000${exp}\u0000${claim.uri}`)
    .digest();
}

/** The expiry a token minted at `nowSec` gets (epoch seconds). */
export function mediaTokenExpiry(nowSec: number, ttlSeconds: number): number {
  const quantum = Math.max(1, Math.min(3600, Math.floor(ttlSeconds / 8)));
  return Math.floor(nowSec / quantum) * quantum + ttlSeconds;
}

/**
 * `<exp>.<base64url HMAC>`; safe in a query string as is. `nowSec` defaults to the clock.
 */
export function signMediaToken(key: Uint8Array, claim: MediaTokenClaim, ttlSeconds: number, nowSec = Math.floor(Date.now() / 1000)): string {
  const exp = mediaTokenExpiry(nowSec, ttlSeconds);
  return `${exp}.${mac(key, claim, exp).toString('base64url')}`;
}

/**
 * Checks `token` against `claim`. Throws ForbiddenError (403) when it is malformed, altered,
 * bound to anything else, or expired; returns the expiry otherwise.
 */
export function verifyMediaToken(key: Uint8Array, claim: MediaTokenClaim, token: string, nowSec = Math.floor(Date.now() / 1000)): number {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw new ForbiddenError('invalid media token');
  const exp = Number(m[1]);
  const given = Buffer.from(m[2], 'base64url');
  const want = mac(key, claim, exp);
  if (given.length !== want.length || !timingSafeEqual(given, want)) throw new ForbiddenError('invalid media token');
  if (exp <= nowSec) throw new ForbiddenError('media token expired');
  return exp;
}

/**
 * Token for a `/data/local-files/?d=` URL. Those URLs name neither task nor project, so the
 * organization travels inside the token: `<exp>.<base64url orgId>.<sig>`, the signature covering
 * the org and the decoded `d` path.
 */
export function signLocalFilesToken(key: Uint8Array, orgId: string, path: string, ttlSeconds: number, nowSec?: number): string {
  const t = signMediaToken(key, { orgId, scope: 'local-files', id: path, uri: '' }, ttlSeconds, nowSec);
  const dot = t.indexOf('.');
  return `${t.slice(0, dot)}.${Buffer.from(orgId, 'utf8').toString('base64url')}${t.slice(dot)}`;
}

/** Verifies a local-files token for `path`; returns the organization it grants. Throws ForbiddenError. */
export function verifyLocalFilesToken(key: Uint8Array, path: string, token: string, nowSec?: number): string {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw new ForbiddenError('invalid media token');
  const orgId = Buffer.from(m[2], 'base64url').toString('utf8');
  if (!orgId || Buffer.from(orgId, 'utf8').toString('base64url') !== m[2]) throw new ForbiddenError('invalid media token');
  verifyMediaToken(key, { orgId, scope: 'local-files', id: path, uri: '' }, `${m[1]}.${m[3]}`, nowSec);
  return orgId;
}
