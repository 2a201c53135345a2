/**
 * Keys a source storage must not import because one of the project's target storages writes
 * there (Label Studio #8838: exported annotations coming back as tasks). A target counts when it
 * points at the same place (same provider family and bucket/container/path) and has a non-empty
 * prefix; its normalised prefix (`a/b/`) is then skipped. A target without a prefix writes at the
 * root, where skipping would hide every object, so it is not applied (documented limitation).
 */
import path from 'node:path';
import type { StorageItem } from '../db/items';

const family = (t: string) => (t === 's3s' ? 's3' : t === 'azure_spi' ? 'azure' : t);
const s = (v: unknown) => (typeof v === 'string' ? v.trim() : v === null || v === undefined ? '' : String(v));
const normPrefix = (p: string) => (p ? p.replace(/^\/+/, '').replace(/\/+$/, '') + '/' : '');

/** Prefixes (relative to the source's keys) under which `source` must skip keys. */
export function exportPrefixes(source: StorageItem, targets: StorageItem[]): string[] {
  const out: string[] = [];
  const sf = source.fields ?? {};
  for (const t of targets) {
    if (t.role !== 'export' || family(t.type) !== family(source.type) || t.cancelled) continue;
    const tf = t.fields ?? {};
    switch (family(source.type)) {
      case 's3':
        if (s(tf.bucket) !== s(sf.bucket) || s(tf.s3_endpoint) !== s(sf.s3_endpoint)) continue;
        break;
      case 'gcs':
        if (s(tf.bucket) !== s(sf.bucket)) continue;
        break;
      case 'azure':
        if (s(tf.container) !== s(sf.container) || s(tf.azure_endpoint) !== s(sf.azure_endpoint)) continue;
        break;
      case 'redis':
        if (s(tf.host) !== s(sf.host) || s(tf.port || 6379) !== s(sf.port || 6379) || s(tf.db ?? 2) !== s(sf.db ?? 1)) continue;
        break;
      case 'localfiles': {
        // Local keys are relative to the source path: a target inside it hides its subdirectory.
        const src = path.posix.normalize(s(sf.path).replace(/\\/g, '/')).replace(/\/+$/, '');
        const dst = path.posix.normalize(s(tf.path).replace(/\\/g, '/')).replace(/\/+$/, '');
        if (dst.startsWith(src + '/')) out.push(dst.slice(src.length + 1) + '/');
        continue;
      }
      default:
        continue;
    }
    const p = normPrefix(s(tf.prefix));
    if (p) out.push(p);
  }
  return [...new Set(out)];
}

/** A predicate true for keys under any of `prefixes`. */
export function underAny(prefixes: string[]): (key: string) => boolean {
  if (!prefixes.length) return () => false;
  return (key) => prefixes.some((p) => key.startsWith(p));
}
