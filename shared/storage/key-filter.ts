/**
 * Key selection rules shared by every provider: prefix normalisation, folder placeholders and
 * `regex_filter`. One rule for every backend: the pattern is matched against the full key
 * (for local files: the path relative to the storage path) with Python `re.match` semantics —
 * anchored at the start, not at the end (`.*jpg` matches `a.jpg.bak`). Patterns run on RE2
 * (`re2js`), whose matching time is linear in the key length, so a hostile pattern cannot
 * stall a sync (no ReDoS); RE2 has no look-around or back-references, which are refused.
 */
import { RE2JS } from 're2js';
import { ValidationError } from '../errors';

/** A compiled key predicate. */
export type KeyMatcher = (key: string) => boolean;

const matchAll: KeyMatcher = () => true;

/**
 * Compiles `regex_filter`. Empty or null → every key matches.
 * @throws ValidationError on `regex_filter` when the pattern is invalid or unsupported by RE2.
 */
export function compileKeyFilter(pattern: string | null | undefined): KeyMatcher {
  if (pattern === null || pattern === undefined || pattern === '') return matchAll;
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^error parsing regexp: /, '') : 'invalid pattern';
    throw ValidationError.field('regex_filter', `Invalid regular expression: ${why}`);
  }
  // lookingAt = match anchored at the start only, exactly Python's re.match.
  return (key) => re.matcher(key).lookingAt();
}

/**
 * The one prefix normaliser (listing, export keys, the import-side skip rule): runs of `/`
 * collapse, leading and trailing `/` go, a non-empty result ends in `/` (`/a//b/` → `a/b/`,
 * empty/null/all-slash → ''). A prefix `img` therefore never matches `img2/x` (Label Studio does
 * the same for S3 and Azure).
 */
export function normalizePrefix(prefix: string | null | undefined): string {
  if (!prefix) return '';
  const trimmed = prefix.replace(/\/{2,}/g, '/').replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}

/** Keys ending in `/` are folder placeholders created by consoles; they are never listed. */
export function isFolderPlaceholder(key: string): boolean {
  return key.endsWith('/');
}

/** How a provider selects keys: under `prefix`, below it only when `recursive`, matching `filter`. */
export interface KeySelection {
  prefix: string;
  recursive: boolean;
  filter: KeyMatcher;
}

/**
 * True when a listing under `rule` returns `key` (no folder placeholder, under the prefix, no
 * deeper `/` unless recursive, matching `regex_filter`): the one rule a notified key must pass too.
 */
export function selectsKey(key: string, rule: KeySelection): boolean {
  if (!key || isFolderPlaceholder(key) || !key.startsWith(rule.prefix)) return false;
  if (!rule.recursive && key.slice(rule.prefix.length).includes('/')) return false;
  return rule.filter(key);
}

/** Largest page any provider returns. */
export const MAX_PAGE_SIZE = 1000;

/** Clamps a requested page size to 1..1000 (default 1000). */
export function pageSizeOf(requested: number | undefined): number {
  if (!requested || !Number.isFinite(requested) || requested < 1) return MAX_PAGE_SIZE;
  return Math.min(Math.floor(requested), MAX_PAGE_SIZE);
}
