/**
 * Finds the storage URIs (`s3://`, `gs://`, `azure-blob://`, `azure-spi://`, `azure_spi://`) and
 * local-files URLs (`/data/local-files/?d=...`) inside one string of task data.
 *
 * Label Studio uses a regex that only sees quoted URIs without `=`; this scanner instead:
 * - treats a string whose trimmed value starts with a scheme (or a local-files URL) as one URI,
 *   spaces and any other characters included;
 * - elsewhere accepts a scheme only at a token boundary (not preceded by a letter, digit or
 *   `_+.-`), so `xs3://` or `mys3://` are not URIs;
 * - takes a URI preceded by a quote up to the matching closing quote (so `=`, spaces, `<` are
 *   allowed inside quotes), and an unquoted one up to whitespace, `<`, `>` or a quote.
 * Spans never overlap and come in text order. Pure and allocation-light: it runs for every
 * string of every task a list endpoint returns.
 */
import { URI_SCHEMES, type UriScheme } from './schemes';

export type UriSpanKind = 'storage' | 'local-files';

/** One URI occurrence: `text.slice(start, end) === uri`. */
export interface UriSpan {
  kind: UriSpanKind;
  start: number;
  end: number;
  uri: string;
  /** Scheme of a storage URI; undefined for local-files URLs. */
  scheme?: UriScheme;
}

const LOCAL_FILES_PATH = '/data/local-files';

function isBoundaryBreaker(code: number): boolean {
  // Letters, digits and the characters that may appear inside a scheme or host name.
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 95 /* _ */ ||
    code === 43 /* + */ ||
    code === 46 /* . */ ||
    code === 45 /* - */
  );
}

function isTerminator(code: number): boolean {
  // whitespace, quotes, angle brackets
  return (
    code === 32 || code === 9 || code === 10 || code === 13 || code === 12 || code === 11 ||
    code === 0xa0 || code === 34 || code === 39 || code === 60 || code === 62
  );
}

function isWhitespace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0xfeff;
}

/** End of an unquoted token starting at `from`. */
function unquotedEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && !isTerminator(text.charCodeAt(i))) i++;
  return i;
}

/** End of a token starting at `start` whose opening context is `text[start - 1]`. */
function tokenEnd(text: string, start: number, bodyFrom: number): number {
  const before = start > 0 ? text.charCodeAt(start - 1) : -1;
  if (before === 34 || before === 39) {
    const close = text.indexOf(before === 34 ? '"' : "'", bodyFrom);
    if (close >= 0) return close;
  }
  return unquotedEnd(text, bodyFrom);
}

function schemeAt(text: string, start: number): UriScheme | undefined {
  for (const s of URI_SCHEMES) {
    if (text.startsWith(s, start) && text.startsWith('://', start + s.length)) return s;
  }
  return undefined;
}

function trimBounds(text: string): [number, number] {
  let a = 0;
  let b = text.length;
  while (a < b && isWhitespace(text.charCodeAt(a))) a++;
  while (b > a && isWhitespace(text.charCodeAt(b - 1))) b--;
  return [a, b];
}

/** Whether `text.slice(at)` is the start of a local-files URL path with a query. */
function localFilesQueryAt(text: string, at: number): number {
  if (!text.startsWith(LOCAL_FILES_PATH, at)) return -1;
  let q = at + LOCAL_FILES_PATH.length;
  if (text.charCodeAt(q) === 47 /* / */) q++;
  return text.charCodeAt(q) === 63 /* ? */ ? q : -1;
}

/**
 * Start of the URL that contains the local-files path at `at`: the path itself, or an
 * `http(s)://host[:port]` directly in front of it.
 */
function localFilesUrlStart(text: string, at: number): number {
  let i = at;
  while (i > 0 && !isTerminator(text.charCodeAt(i - 1))) i--;
  const prefix = text.slice(i, at);
  if (prefix === '' || /^https?:\/\/[^/?#]+$/i.test(prefix)) return i;
  return -1;
}

function storageSpans(text: string, out: UriSpan[]): void {
  let i = text.indexOf('://');
  while (i >= 0) {
    let found: UriScheme | undefined;
    let start = -1;
    for (const s of URI_SCHEMES) {
      const st = i - s.length;
      if (st >= 0 && text.startsWith(s, st) && (st === 0 || !isBoundaryBreaker(text.charCodeAt(st - 1)))) {
        found = s;
        start = st;
        break;
      }
    }
    if (!found) {
      i = text.indexOf('://', i + 3);
      continue;
    }
    const end = tokenEnd(text, start, i + 3);
    out.push({ kind: 'storage', start, end, uri: text.slice(start, end), scheme: found });
    i = text.indexOf('://', Math.max(end, i + 3));
  }
}

function localFileSpans(text: string, out: UriSpan[]): void {
  let i = text.indexOf(LOCAL_FILES_PATH);
  while (i >= 0) {
    const q = localFilesQueryAt(text, i);
    const start = q >= 0 ? localFilesUrlStart(text, i) : -1;
    if (start < 0) {
      i = text.indexOf(LOCAL_FILES_PATH, i + 1);
      continue;
    }
    const end = tokenEnd(text, start, q);
    out.push({ kind: 'local-files', start, end, uri: text.slice(start, end) });
    i = text.indexOf(LOCAL_FILES_PATH, end);
  }
}

/**
 * Every URI occurrence in `text`, in order, non-overlapping. A string whose trimmed value starts
 * with a storage scheme or a local-files URL yields exactly one span covering the trimmed value.
 */
export function findUris(text: string): UriSpan[] {
  // Fast exit: most strings of task data hold neither marker.
  const hasScheme = text.includes('://');
  const hasLocal = text.includes(LOCAL_FILES_PATH);
  if (!hasScheme && !hasLocal) return [];

  const [a, b] = trimBounds(text);
  const scheme = hasScheme ? schemeAt(text, a) : undefined;
  if (scheme) return [{ kind: 'storage', start: a, end: b, uri: text.slice(a, b), scheme }];
  if (hasLocal) {
    const at = text.indexOf(LOCAL_FILES_PATH, a);
    if (at >= 0 && localFilesQueryAt(text, at) >= 0 && localFilesUrlStart(text, at) === a) {
      return [{ kind: 'local-files', start: a, end: b, uri: text.slice(a, b) }];
    }
  }

  const spans: UriSpan[] = [];
  if (hasScheme) storageSpans(text, spans);
  if (hasLocal) localFileSpans(text, spans);
  if (!hasScheme || !hasLocal) return spans;
  spans.sort((x, y) => x.start - y.start);
  const merged: UriSpan[] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (!last || s.start >= last.end) merged.push(s);
  }
  return merged;
}

/**
 * Rebuilds `text` with each span replaced by `replace(span)`; a `undefined` result keeps the
 * span unchanged. Returns the same string instance when nothing changed.
 */
export function replaceUris(text: string, spans: readonly UriSpan[], replace: (span: UriSpan) => string | undefined): string {
  if (spans.length === 0) return text;
  let out = '';
  let pos = 0;
  let changed = false;
  for (const s of spans) {
    const r = replace(s);
    if (r === undefined || r === s.uri) continue;
    out += text.slice(pos, s.start) + r;
    pos = s.end;
    changed = true;
  }
  return changed ? out + text.slice(pos) : text;
}
