/**
 * Keys a source storage must not import because one of the project's target storages writes
 * there (Label Studio #8838: exported annotations coming back as tasks). A target counts when its
 * definition's location identity equals the source's (same family, place and endpoint) or, for
 * directory places, lies inside it; the prefix it writes under (the export key rule's) is then
 * skipped. A target writing at the root of the source's keys is not applied: skipping would hide
 * every object (documented limitation).
 */
import type { StorageItem } from '../db/items';
import { backend } from '../storage/backends';
import type { LocationRule } from '../storage/backends/definition';
import type { StorageConfig } from '../storage/types';

/** Where `target`'s keys start relative to `source`'s ('' = same root; undefined = elsewhere). */
function relativePlace(rule: LocationRule, source: StorageItem, target: StorageItem): string | undefined {
  const sf = source.fields ?? {};
  const tf = target.fields ?? {};
  const src = rule.place(sf, source.role);
  const dst = rule.place(tf, target.role);
  if (rule.nested) return dst.startsWith(src + '/') ? dst.slice(src.length + 1) + '/' : undefined;
  if (src !== dst || (rule.endpoint?.(sf, source.role) ?? '') !== (rule.endpoint?.(tf, target.role) ?? '')) return undefined;
  return '';
}

/** Prefixes (relative to the source's keys) under which `source` must skip keys. */
export function exportPrefixes(source: StorageItem, targets: StorageItem[]): string[] {
  const out: string[] = [];
  const rule = backend(source.type)?.location;
  if (!rule) return out;
  for (const t of targets) {
    const def = backend(t.type);
    if (t.role !== 'export' || t.cancelled || def?.location.family !== rule.family) continue;
    const under = relativePlace(rule, source, t);
    if (under === undefined) continue;
    const p = under + def.exportKeyPrefix({ ...t.fields, type: t.type, role: t.role } as StorageConfig);
    if (p) out.push(p);
  }
  return [...new Set(out)];
}

/** A predicate true for keys under any of `prefixes`. */
export function underAny(prefixes: string[]): (key: string) => boolean {
  if (!prefixes.length) return () => false;
  return (key) => prefixes.some((p) => key.startsWith(p));
}
