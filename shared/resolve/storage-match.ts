/**
 * Which of a project's source storages answers a storage URI: same scheme family
 * and exactly the same bucket/container. The prefix is not checked (as in Label Studio).
 * The rewrite and the resolve endpoint both use this, so a URL the task API emits always
 * resolves to the storage it was matched to.
 */
import type { StorageItem } from '../db/items';
import type { StorageType } from '../storage/types';
import { backend } from '../storage/backends';
import { parseStorageUri, storageTypesForScheme, type ParsedStorageUri } from './schemes';

/** The few fields of a source storage that URI rewriting and matching need (no secrets). */
export interface ResolvableStorage {
  id: number;
  type: StorageType;
  /** The bucket or container named by the definition's `resolves.bucketField`. */
  bucket: string;
  /** Redirect to a presigned URL (true, LS default) or proxy the bytes (false). */
  presign: boolean;
  /** Minutes, as Label Studio (default 1). */
  presignTtlMinutes: number;
  /** Put presigned URLs straight into task data instead of resolve URLs. */
  inlinePresign: boolean;
}

/**
 * The resolvable view of a stored storage item; undefined for export storages and for types
 * without a URI scheme (redis, local files).
 */
export function toResolvableStorage(item: Pick<StorageItem, 'id' | 'type' | 'role' | 'fields'>): ResolvableStorage | undefined {
  const resolves = backend(item.type)?.resolves;
  if (item.role !== 'import' || !resolves) return undefined;
  const f = item.fields ?? {};
  const bucket = f[resolves.bucketField];
  if (typeof bucket !== 'string' || bucket === '') return undefined;
  const ttl = Number(f.presign_ttl);
  return {
    id: item.id,
    type: item.type,
    bucket,
    presign: f.presign === undefined || f.presign === null ? true : f.presign === true,
    presignTtlMinutes: Number.isFinite(ttl) && ttl >= 1 ? Math.floor(ttl) : 1,
    inlinePresign: f.inline_presign === true,
  };
}

/**
 * The storage answering `uri`, or undefined. When several match (two storages on one bucket)
 * the preferred one (the task's source storage) wins, else the lowest id, so the choice is stable.
 */
export function matchStorage<S extends ResolvableStorage>(
  storages: readonly S[],
  uri: string | ParsedStorageUri,
  preferredId?: number,
): { storage: S; parsed: ParsedStorageUri } | undefined {
  const parsed = typeof uri === 'string' ? parseStorageUri(uri) : uri;
  if (!parsed) return undefined;
  const types = storageTypesForScheme(parsed.scheme);
  let best: S | undefined;
  for (const s of storages) {
    if (s.bucket !== parsed.bucket || !types.includes(s.type)) continue;
    if (s.id === preferredId) return { storage: s, parsed };
    if (!best || s.id < best.id) best = s;
  }
  return best ? { storage: best, parsed } : undefined;
}
