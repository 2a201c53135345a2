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

/** Inverse of {@link packJson}; any other value (absent, or stored unpacked) is returned as it is. */
export function unpackJson<T>(stored: unknown): T {
  return (stored instanceof Uint8Array ? JSON.parse(inflateRawSync(stored).toString('utf8')) : stored) as T;
}
