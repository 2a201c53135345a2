/**
 * The shared secret of an Azure storage's Event Grid webhook. Derived, not stored: HMAC-SHA256 of
 * the storage id under the app's signing key (HKDF-separated from media tokens), so every function
 * instance computes the same value without a table read per delivery, a secret is never written
 * anywhere, and it can be checked before the storage is loaded (an unauthenticated caller cannot
 * probe which storage ids exist). It changes only with the signing key; a new storage gets a new one.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** The secret of `storageId` (43 base64url characters). */
export function webhookSecret(signingKey: Buffer, storageId: number): string {
  const key = Buffer.from(hkdfSync('sha256', signingKey, Buffer.alloc(0), 'labelsync/event-grid-webhook/v1', 32));
  return createHmac('sha256', key).update(`storage:${storageId}`).digest('base64url');
}

/** Constant-time comparison of a presented secret with the storage's. */
export function webhookSecretMatches(signingKey: Buffer, storageId: number, given: string | undefined): boolean {
  if (!given) return false;
  const want = Buffer.from(webhookSecret(signingKey, storageId));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}
