/**
 * Object key of an exported annotation. One function so the stream writer, the export sync and
 * the delete path always agree on where an annotation lives; the prefix it is written under comes
 * from the target type's definition (`exportKeyPrefix`), the same one the import-side skip rule
 * uses, normalised by the one prefix normaliser the listing uses too.
 */
import { backend } from '../storage/backends';
import { normalizePrefix } from '../storage/key-filter';
import type { StorageConfig } from '../storage/types';

/** Storage option choosing the base name: LS default (`id`) or `<id>.json` (LS #2512). */
export type ExportKeyFormat = 'id' | 'id_json';

/** The configured key format; anything but `"id_json"` means the Label Studio default. */
export function exportKeyFormat(config: StorageConfig): ExportKeyFormat {
  return config.export_key_format === 'id_json' ? 'id_json' : 'id';
}

/**
 * A prefix as an export key directory without its trailing `/` (`/out//a/` → `out/a`), so keys
 * never contain `//` (Label Studio writes `out//123` for prefix `out/`). Empty or all-slash: none.
 */
export function normalizeExportPrefix(prefix: string | null | undefined): string {
  return normalizePrefix(prefix).slice(0, -1);
}

/**
 * The key an annotation is written to in one target storage: the type's export prefix (cloud
 * types: the normalised `prefix`; key-value and directory types: none, see their definitions) followed by `base`, the annotation id or `<id>.json`
 * with `export_key_format: "id_json"`.
 * @throws Error for an unknown storage type.
 */
export function exportObjectKey(config: StorageConfig, annotationId: number): string {
  const base = exportKeyFormat(config) === 'id_json' ? `${annotationId}.json` : String(annotationId);
  const def = backend(config.type);
  if (!def) throw new Error(`Unknown storage type '${String(config.type)}'`);
  return def.exportKeyPrefix(config) + base;
}
