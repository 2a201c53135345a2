/**
 * Object key of an exported annotation (spec §6.2). One function so the stream writer, the
 * export sync and the delete path always agree on where an annotation lives.
 */
import type { StorageConfig } from '../storage/types';

/** Storage option choosing the base name: LS default (`id`) or `<id>.json` (LS #2512). */
export type ExportKeyFormat = 'id' | 'id_json';

/** The configured key format; anything but `"id_json"` means the Label Studio default. */
export function exportKeyFormat(config: StorageConfig): ExportKeyFormat {
  return config.export_key_format === 'id_json' ? 'id_json' : 'id';
}

/**
 * Collapses runs of `/` and drops trailing ones, so `out/` and `out//a/` never produce `//`
 * (Label Studio writes `out//123` for prefix `out/`). An empty or all-slash prefix means none.
 */
export function normalizeExportPrefix(prefix: string | null | undefined): string {
  if (!prefix) return '';
  return prefix.replace(/\/{2,}/g, '/').replace(/\/+$/, '');
}

/**
 * The key an annotation is written to in one target storage:
 * - s3/s3s/gcs/azure/azure_spi: `<prefix>/<base>` (no prefix → `<base>`);
 * - redis: `<base>` only, in the storage's db (LS ignores `path` on export);
 * - localfiles: `base`, relative to the storage path (the local provider resolves keys against
 *   `path`, so the file lands at `join(path, base)` as in Label Studio).
 * `base` is the annotation id, or `<id>.json` with `export_key_format: "id_json"`.
 */
export function exportObjectKey(config: StorageConfig, annotationId: number): string {
  const base = exportKeyFormat(config) === 'id_json' ? `${annotationId}.json` : String(annotationId);
  switch (config.type) {
    case 'redis':
    case 'localfiles':
      return base;
    default: {
      const prefix = normalizeExportPrefix(config.prefix);
      return prefix ? `${prefix}/${base}` : base;
    }
  }
}
