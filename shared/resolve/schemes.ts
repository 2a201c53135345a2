/**
 * The storage URI schemes task data may carry, and which storage types answer each, derived from
 * the backend definitions' `resolves` (e.g. s3 and s3s share `s3://`; one type may answer two
 * spellings of its scheme).
 */
import type { StorageType } from '../storage/types';
import { BACKEND_LIST } from '../storage/backends';
import { schemeTable } from '../storage/backends/derive';

const TYPES_OF_SCHEME: ReadonlyMap<string, readonly StorageType[]> = schemeTable(BACKEND_LIST);

/** Every recognised scheme, longest first so a scanner never stops at a shorter prefix. */
export const URI_SCHEMES: readonly string[] = [...TYPES_OF_SCHEME.keys()];
/** A recognised URI scheme (one of URI_SCHEMES). */
export type UriScheme = string;

/** Storage types that can resolve a URI of `scheme` (empty for an unknown scheme). */
export function storageTypesForScheme(scheme: string): readonly StorageType[] {
  return TYPES_OF_SCHEME.get(scheme) ?? [];
}

/** A storage URI split into its parts. `key` is verbatim: percent escapes are not decoded. */
export interface ParsedStorageUri {
  scheme: UriScheme;
  bucket: string;
  key: string;
}

/**
 * Splits `scheme://bucket/key`. Returns undefined for an unknown scheme, an empty bucket or
 * an empty key (Label Studio cannot resolve a URI without a path after the bucket either).
 */
export function parseStorageUri(uri: string): ParsedStorageUri | undefined {
  const sep = uri.indexOf('://');
  if (sep <= 0) return undefined;
  const scheme = uri.slice(0, sep);
  if (!TYPES_OF_SCHEME.has(scheme)) return undefined;
  const rest = uri.slice(sep + 3);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  return { scheme, bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}
