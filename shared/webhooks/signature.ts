/**
 * Request signing, Stripe-style: `X-Labelsync-Signature: t=<unix seconds>,v1=<hex>` where the hex
 * is HMAC-SHA256(secret, `<t>.<body>`). During a secret rotation's overlap the header carries one
 * `v1=` per valid secret (new first). Receivers recompute the HMAC over the raw body, compare in
 * constant time, and reject a `t` older than {@link SIGNATURE_TOLERANCE_SECONDS}.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Labelsync-Signature';
export const EVENT_ID_HEADER = 'X-Labelsync-Event-Id';
export const DELIVERY_ID_HEADER = 'X-Labelsync-Delivery-Id';

/** What a receiver should accept: 5 minutes of clock skew and transit. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** A new webhook secret (`whsec_` + 32 random bytes, hex). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('hex')}`;
}

function hmac(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

/** The signature header value of `body` at unix time `t` under each of `secrets`. */
export function signatureHeader(secrets: readonly string[], body: string, t = Math.floor(Date.now() / 1000)): string {
  return [`t=${t}`, ...secrets.map((s) => `v1=${hmac(s, t, body)}`)].join(',');
}

/**
 * Verifies a signature header (the receiver's side; tests and the README snippets do the same).
 * False when malformed, too old (or too far in the future), or no `v1` matches.
 */
export function verifySignature(header: string | undefined, body: string, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  if (!header) return false;
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isSafeInteger(t) || Math.abs(nowSeconds - t) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  return parts.some(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/.test(v) && timingSafeEqual(Buffer.from(v, 'hex'), expected));
}
