/**
 * `GET|HEAD /data/local-files/?d=<path>`: serves a file under LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT,
 * only from a directory that one of the caller's organization's local-files import
 * storages connects, to an authenticated caller or to a browser holding a local-files media token
 * (which carries the organization it was issued for). Never from the service's data directory,
 * nor from a directory another organization owns (shared/api/local-dirs.ts).
 *
 * Traversal defence (CVE-2025-25295 class): `d` is decoded exactly once (by the query parser),
 * null bytes are refused, backslashes are separators, `..` may not climb out, and the result is
 * canonicalised with realpath (symlinks resolved) before two separator-aware containment checks:
 * inside the real document root, and inside the real path of a connected storage.
 */
import { createReadStream, type BigIntStats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { AuthError, ForbiddenError, NotFoundError } from '../errors';
import type { HttpResponse } from '../http/types';
import { claimsAbove } from '../db/repo-local-dirs';
import type { Db } from '../db/repo-common';
import { dataDirForms, isWithin, SERVING_DISABLED_MESSAGE, touchesDataDir } from '../storage/providers/local';
import { guessContentType } from './content-type';
import { verifyLocalFilesToken } from './media-token';
import { etagMatches, UNTRUSTED_CONTENT_HEADERS } from './proxy';

export interface LocalFilesSettings {
  servingEnabled: boolean;
  /** False in AWS: the local-files storage type does not exist there. */
  storageEnabled: boolean;
  documentRoot: string;
  /** LABELSYNC_DATA_DIR: never served, whatever the storages say. */
  dataDir?: string;
}

export interface LocalFilesDeps {
  settings: LocalFilesSettings;
  signingKey: Uint8Array;
  /** `path` of every local-files import storage of the organization's projects (indexed queries). */
  storagePathsOfOrg: (orgId: string) => Promise<string[]>;
  /** The table holding the directory claims (a storage made before its claim must not reach a claimed child). */
  db: Db;
}

export interface LocalFilesRequest {
  method: string;
  principalOrgId?: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

/**
 * The root-relative path `d` names, normalised, or undefined when it tries to climb out or
 * carries a null byte. A leading `/` is dropped (Label Studio's rule).
 */
export function normaliseRelative(d: string): string | undefined {
  if (d.includes('\0')) return undefined;
  const unified = d.replace(/\\/g, '/').replace(/^\/+/, '');
  const norm = path.posix.normalize(unified);
  if (norm === '.' || norm === '..' || norm.startsWith('../') || path.posix.isAbsolute(norm)) return undefined;
  return norm;
}

async function realOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch {
    return undefined;
  }
}

/** Weak ETag `W/"<mtime_ns hex>-<size hex>"`, Label Studio's format. */
export function localFileEtag(mtimeNs: bigint, size: bigint): string {
  return `W/"${mtimeNs.toString(16)}-${size.toString(16)}"`;
}

/** A byte range of a file of `size` bytes: `A-B`, `A-`, `-K`; undefined = whole; null = unsatisfiable. */
function fileRange(header: string | undefined, size: number): { start: number; end: number } | undefined | null {
  if (!header) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // unparsable: ignore, as HTTP allows
  if (m[1] === '') {
    const k = Number(m[2]);
    if (k === 0) return null;
    return { start: Math.max(0, size - k), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

/**
 * Serves one local file.
 * @throws ForbiddenError (403) when serving is disabled (message names the variable), `d` is
 *   missing, or a token is invalid/expired
 * @throws AuthError (401) with neither Authorization nor a token
 * @throws NotFoundError (404) for traversal attempts, files outside connected storages, missing files
 */
export async function serveLocalFile(deps: LocalFilesDeps, req: LocalFilesRequest): Promise<HttpResponse> {
  const { d, orgId } = authorize(deps, req);
  const file = await resolveServableFile(deps, d, orgId);
  const st = await servableStat(file);
  const size = Number(st.size);
  const etag = localFileEtag(st.mtimeNs, st.size);
  const headers: Record<string, string> = {
    'content-type': guessContentType(file) ?? 'application/octet-stream',
    'accept-ranges': 'bytes',
    etag,
    'last-modified': new Date(Number(st.mtimeMs)).toUTCString(),
    ...UNTRUSTED_CONTENT_HEADERS,
  };
  if (etagMatches(req.headers['if-none-match'], etag)) return { statusCode: 304, headers: { etag } };

  const range = fileRange(req.headers.range, size);
  if (range === null) {
    return { statusCode: 416, headers: { 'content-range': `bytes */${size}`, 'content-type': 'text/plain' }, body: 'Requested range not satisfiable' };
  }
  const length = range ? range.end - range.start + 1 : size;
  headers['content-length'] = String(length);
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
  const status = range ? 206 : 200;
  if (req.method === 'HEAD' || length === 0) return { statusCode: status, headers, body: req.method === 'HEAD' ? undefined : '' };
  const body = createReadStream(file, range ? { start: range.start, end: range.end } : {});
  return { statusCode: status, headers, body };
}

/** The requested path and the organization it is served for (the caller's, or the token's). */
function authorize(deps: LocalFilesDeps, req: LocalFilesRequest): { d: string; orgId: string } {
  const { settings } = deps;
  if (!settings.storageEnabled) {
    throw new ForbiddenError('Local files storage is not available in this deployment (LABELSYNC_LOCAL_FILES_STORAGE_ENABLED is false).');
  }
  if (!settings.servingEnabled) {
    throw new ForbiddenError(SERVING_DISABLED_MESSAGE);
  }
  const d = req.query.d;
  if (!d) throw new ForbiddenError('query parameter "d" is required');
  let orgId = req.principalOrgId;
  if (orgId === undefined) {
    const token = req.query.token;
    if (!token) throw new AuthError('Authentication credentials were not provided.');
    orgId = verifyLocalFilesToken(deps.signingKey, d, token);
  }
  return { d, orgId };
}

const notFound = () => new NotFoundError('File not found.');

/** The real path `d` names, inside the real document root and a storage the organization connects. */
async function resolveServableFile(deps: LocalFilesDeps, d: string, orgId: string): Promise<string> {
  const rel = normaliseRelative(d);
  if (rel === undefined) throw notFound();
  const root = await realOrUndefined(deps.settings.documentRoot);
  if (!root) throw notFound();
  const file = await realOrUndefined(path.join(root, rel));
  if (!file || file === root || !isWithin(root, file)) throw notFound();
  if (touchesDataDir(file, await dataDirForms(deps.settings.dataDir))) throw notFound();
  const dir = path.dirname(file);
  if (!(await inConnectedStorage(await deps.storagePathsOfOrg(orgId), root, dir))) throw notFound();
  if ((await claimsAbove(deps.db, dir)).some((c) => c.orgId !== orgId)) throw notFound();
  return file;
}

async function inConnectedStorage(storagePaths: string[], root: string, dir: string): Promise<boolean> {
  for (const p of storagePaths) {
    const real = await realOrUndefined(p.replace(/\\/g, '/').replace(/\/+$/, '') || '/');
    if (real && isWithin(root, real) && isWithin(real, dir)) return true;
  }
  return false;
}

async function servableStat(file: string): Promise<BigIntStats> {
  let st;
  try {
    st = await stat(file, { bigint: true });
  } catch {
    throw notFound();
  }
  // A hard link inside the root may name a file outside it; no path check can tell (docs/security.md).
  if (!st.isFile() || st.nlink > 1n) throw notFound();
  return st;
}
