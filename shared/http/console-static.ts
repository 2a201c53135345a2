/**
 * Serving the browser console (built by console/build.ts): the index page for `/`, `/console` and
 * every `/console/...` deep link (the app routes on the path), the hashed assets under
 * `/console/assets/`, with content types, caching and a strict Content-Security-Policy. No token
 * is needed for these files: they hold no data; the app reads everything through the
 * authenticated API.
 */
import type { HttpResponse } from './types';

/** One built file of the console, ready to serve. */
export interface ConsoleAsset {
  /** Text content (the console ships only text: HTML, JavaScript, CSS). */
  body: string;
  contentType: string;
  /** Strong validator: a hash of the body, quoted. */
  etag: string;
}

/**
 * The built console: `index` is the page every console path answers; `files` are the hashed
 * assets it references, by file name (`app-<hash>.js`), served under `/console/assets/<name>`.
 */
export interface ConsoleAssets {
  index: ConsoleAsset;
  files: Record<string, ConsoleAsset>;
}

/**
 * Scripts, styles, fetches and fonts only from this origin. Images and media may also come from
 * http(s) URLs: a resolve URL answers with a redirect to a presigned URL on the storage's own
 * endpoint (any bucket host, an emulator on http under `npm start`), which the browser must follow.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "img-src 'self' data: blob: https: http:",
  "media-src 'self' blob: https: http:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const ASSET_PATH = /^\/console\/assets\/([^/]+)$/;

/** Whether a path belongs to the console (public: no token needed). */
export function isConsolePath(path: string): boolean {
  return path === '/' || path === '' || /^\/console(\/|$)/.test(path);
}

function notFound(): HttpResponse {
  return {
    statusCode: 404,
    headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' },
    body: JSON.stringify({ status_code: 404, detail: 'Not found.' }),
  };
}

/**
 * The response for a console path: a hashed asset (immutable for a year: its name changes with
 * its content), the index page (revalidated on every load, so a deploy is picked up at once), 304
 * on a matching `If-None-Match`, 404 for an unknown asset (never the page: a missing script must
 * not be answered with HTML).
 */
export function consoleResponse(assets: ConsoleAssets, path: string, ifNoneMatch?: string): HttpResponse {
  const m = ASSET_PATH.exec(path);
  const isAssetDir = /^\/console\/assets(\/|$)/.test(path);
  const file = m ? assets.files[m[1]] : isAssetDir ? undefined : assets.index;
  if (!file) return notFound();
  const cacheControl = m ? 'public, max-age=31536000, immutable' : 'no-cache';
  const headers = { ...SECURITY_HEADERS, 'content-type': file.contentType, 'cache-control': cacheControl, etag: file.etag };
  if (ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === file.etag)) {
    return { statusCode: 304, headers };
  }
  return { statusCode: 200, headers, body: file.body };
}
