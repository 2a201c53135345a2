/**
 * Bulky JSON values stored as one compressed binary attribute (chunk entries, id plans, link
 * pages). A single binary attribute costs DynamoDB (and the SDK) far less to parse, store and
 * rewrite than a list of a thousand maps, and link records and keys compress several-fold; the
 * item is also copied into the table's stream on every write (NEW_AND_OLD_IMAGES).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

/** JSON-encodes and compresses `value`. */
export function packJson(value: unknown): Uint8Array {
  return packJsonText(JSON.stringify(value));
}

/** Compresses text that already is JSON (built piecewise by the caller). */
export function packJsonText(json: string): Uint8Array {
  return deflateRawSync(Buffer.from(json, 'utf8'), { level: 1 });
}

/** Inverse of {@link packJson}; also accepts a plain JSON string (items written before packing). */
export function unpackJson<T>(stored: unknown): T {
  if (typeof stored === 'string') return JSON.parse(stored) as T;
  if (stored instanceof Uint8Array) return JSON.parse(inflateRawSync(stored).toString('utf8')) as T;
  return stored as T;
}

/** True for a value {@link unpackJson} has to decode. */
export function isPacked(stored: unknown): boolean {
  return typeof stored === 'string' || stored instanceof Uint8Array;
}
