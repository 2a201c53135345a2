/**
 * The resolve use case: `GET|HEAD /tasks/{id}/resolve/?fileuri=...` (and `/presign/`, and the
 * project variants). Access needs either an authenticated principal of the task's organization
 * or a valid media token for (organization, task|project, URI). The URI is matched against the
 * project's source storages (one query); presign → 303 to a URL minted now (so it never
 * outlives the request, Label Studio #564; audio and video get a lifetime that outlives playback,
 * see presign-lifetime.ts); no presign → the object streamed through.
 */
import type { Db } from '../db/repo-common';
import type { StorageItem } from '../db/items';
import { getProject } from '../db/repo-projects';
import { getTask } from '../db/repo-tasks';
import { AuthError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import type { HttpResponse } from '../http/types';
import type { StorageProvider } from '../storage/types';
import { decodeFileUri } from './fileuri';
import { verifyMediaToken } from './media-token';
import { presignFor } from './presign-lifetime';
import { proxyObject } from './proxy';
import type { ProxyRuntime } from './range';
import { matchStorage, toResolvableStorage, type ResolvableStorage } from './storage-match';

/** What the resolve use case needs from the outside world. */
export interface ResolveDeps {
  db: Db;
  signingKey: Uint8Array;
  runtime: ProxyRuntime;
  /** The project's source storages, one query (`listProjectStorages(db, id, 'import')`). */
  listImportStorages: (projectId: number) => Promise<StorageItem[]>;
  /** A (cached) provider for a stored storage: decrypt its config, then the registry. */
  providerFor: (storage: StorageItem) => Promise<StorageProvider>;
  /** Least lifetime of presigned audio/video URLs, seconds (env LABELSYNC_MEDIA_PRESIGN_TTL_SECONDS). */
  mediaPresignTtlSeconds: number;
}

export interface ResolveRequest {
  method: string;
  target: { taskId: number } | { projectId: number };
  /** Organization of the authenticated caller; undefined when the request has no Authorization. */
  principalOrgId?: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

/**
 * An unknown id is 404 for an authenticated caller (as Label Studio) but 403 for a token holder,
 * so a token cannot be used to probe which ids exist.
 */
function notFoundOrForbidden(req: ResolveRequest, message: string): Error {
  if (req.principalOrgId !== undefined) return new NotFoundError(message);
  if (!req.query.token) return new AuthError('Authentication credentials were not provided.');
  return new ForbiddenError('invalid media token');
}

/**
 * Answers one resolve request.
 * @throws ValidationError (400) when `fileuri` is missing or does not decode to a URI
 * @throws AuthError (401) with neither Authorization nor a token
 * @throws ForbiddenError (403) for an expired or altered token
 * @throws NotFoundError (404) for unknown/foreign tasks or projects, unmatched URIs, missing objects
 * @throws UpstreamError (424) when the store fails while serving
 */
export async function resolveMedia(deps: ResolveDeps, req: ResolveRequest): Promise<HttpResponse> {
  const raw = req.query.fileuri;
  if (!raw) throw ValidationError.field('fileuri', 'query parameter "fileuri" is required');
  const uri = decodeFileUri(raw);
  if (!uri) throw ValidationError.field('fileuri', 'fileuri must be URL-safe base64 of a storage URI, or the URI itself');

  let orgId: string;
  let projectId: number;
  let sourceStorageId: number | undefined;
  if ('taskId' in req.target) {
    const task = await getTask(deps.db, req.target.taskId);
    if (!task || (req.principalOrgId !== undefined && task.orgId !== req.principalOrgId)) throw notFoundOrForbidden(req, 'Task not found.');
    orgId = task.orgId;
    projectId = task.projectId;
    sourceStorageId = task.source?.storageId;
  } else {
    const project = await getProject(deps.db, req.target.projectId);
    if (!project || (req.principalOrgId !== undefined && project.orgId !== req.principalOrgId)) throw notFoundOrForbidden(req, 'Project not found.');
    orgId = project.orgId;
    projectId = project.id;
  }
  if (req.principalOrgId === undefined) {
    const token = req.query.token;
    if (!token) throw new AuthError('Authentication credentials were not provided.');
    const [scope, id] = 'taskId' in req.target ? (['task', req.target.taskId] as const) : (['project', req.target.projectId] as const);
    verifyMediaToken(deps.signingKey, { orgId, scope, id, uri }, token);
  }

  const items = await deps.listImportStorages(projectId);
  const byId = new Map<number, StorageItem>();
  const resolvable: ResolvableStorage[] = [];
  for (const it of items) {
    const r = toResolvableStorage(it);
    if (r) {
      resolvable.push(r);
      byId.set(r.id, it);
    }
  }
  const match = matchStorage(resolvable, uri, sourceStorageId);
  if (!match) throw new NotFoundError('No storage of this project matches the URI.');
  const provider = await deps.providerFor(byId.get(match.storage.id)!);
  const { key } = match.parsed;

  if (match.storage.presign) {
    const { ttlSeconds: ttl, contentType } = presignFor(key, match.storage.presignTtlMinutes, deps.mediaPresignTtlSeconds);
    let location: string;
    try {
      location = await provider.presign(key, ttl, { contentType });
    } catch (e) {
      throw new NotFoundError('Could not presign the object.', { cause: e });
    }
    return { statusCode: 303, headers: { location, 'cache-control': `no-store, max-age=${ttl}` } };
  }
  return proxyObject(provider, {
    method: req.method,
    key,
    name: key,
    range: req.headers.range,
    ifNoneMatch: req.headers['if-none-match'],
    runtime: deps.runtime,
  });
}
