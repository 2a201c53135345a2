/**
 * Data keys of a labeling config: the `$variables` referenced by `value`/`valueList` attributes,
 * in document order, without duplicates (`<Image value="$image"/><Text value="$text"/>` →
 * `["image", "text"]`). The first one names blob-mode task data (`$undefined$` is renamed to it).
 */
const ATTR = /\b(?:value|valueList)\s*=\s*(["'])\s*\$([A-Za-z_][\w.-]*)\s*\1/g;
const TAG = /<\s*([A-Za-z][\w-]*)([^<>]*)>/g;
/** Tags whose `value` is display text, not task data. */
const NON_DATA_TAGS = new Set(['header', 'style', 'choice', 'label', 'option']);

/** Extracts the data keys (see module comment). Never throws; malformed XML yields what it can. */
export function parseDataKeys(labelConfig: string | null | undefined): string[] {
  const out: string[] = [];
  if (!labelConfig) return out;
  for (const tag of labelConfig.matchAll(TAG)) {
    if (NON_DATA_TAGS.has(tag[1].toLowerCase())) continue;
    for (const m of tag[2].matchAll(ATTR)) if (!out.includes(m[2])) out.push(m[2]);
  }
  return out;
}

/** Label Studio's default config of a new project. */
export const DEFAULT_LABEL_CONFIG = '<View></View>';
