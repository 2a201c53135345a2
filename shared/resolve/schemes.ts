/**
 * The storage URI schemes task data may carry, and which storage types answer each.
 * s3 and s3s share `s3://`; the service-principal Azure variant is written `azure-spi://`
 * by labelsync and `azure_spi://` by Label Studio's OSS model, so both spellings are accepted.
 */
import type { StorageType } from '../storage/types';

/** Every recognised scheme, longest first so a scanner never stops at a shorter prefix. */
export const URI_SCHEMES = ['azure-blob', 'azure-spi', 'azure_spi', 's3', 'gs'] as const;
export type UriScheme = (typeof URI_SCHEMES)[number];

const TYPES_OF_SCHEME: Record<UriScheme, readonly StorageType[]> = {
  s3: ['s3', 's3s'],
  gs: ['gcs'],
  'azure-blob': ['azure'],
  'azure-spi': ['azure_spi'],
  azure_spi: ['azure_spi'],
};

/** Storage types that can resolve a URI of `scheme` (empty for an unknown scheme). */
export function storageTypesForScheme(scheme: string): readonly StorageType[] {
  return (TYPES_OF_SCHEME as Record<string, readonly StorageType[]>)[scheme] ?? [];
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
  if (!(URI_SCHEMES as readonly string[]).includes(scheme)) return undefined;
  const rest = uri.slice(sep + 3);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  return { scheme: scheme as UriScheme, bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}
