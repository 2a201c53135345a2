/**
 * The hook `serializeTask` (shared/api/tasks.ts) calls: rewrites one task's data for the API.
 * The rewrite context (the project's storages, the signing key) is built once per request and
 * shared by every task of a page, so a page costs one storage query and then pure CPU.
 */
import type { AppContext } from '../context';
import type { ProjectItem, TaskItem } from '../db/items';
import { listImportStorages } from './deps';
import { presignFor } from './presign-lifetime';
import { rewriteTaskData, type RewriteContext } from './rewrite';
import { toResolvableStorage, type ResolvableStorage } from './storage-match';

/** What the serializer passes; `request` (or else `project`) identifies one API request. */
export interface TaskDataRequestScope {
  project: ProjectItem;
  app: AppContext;
  request?: object;
}

const contexts = new WeakMap<object, Promise<RewriteContext>>();

async function buildContext(app: AppContext, project: ProjectItem): Promise<RewriteContext> {
  const [items, signingKey] = await Promise.all([listImportStorages(app, project.id), app.signingKey()]);
  const storages: ResolvableStorage[] = [];
  const itemById = new Map(items.map((i) => [i.id, i]));
  for (const it of items) {
    const r = toResolvableStorage(it);
    if (r) storages.push(r);
  }
  const e = app.env;
  return {
    orgId: project.orgId,
    baseUrl: e.publicBaseUrl,
    signingKey,
    tokenTtlSeconds: e.mediaTokenTtlSeconds,
    storages,
    inlinePresignAll: e.inlinePresign,
    localFilesTokens: e.localFilesServingEnabled && e.localFilesStorageEnabled,
    presignInline: async (s, key) => {
      const provider = await app.providerForStorage(itemById.get(s.id)!);
      const { ttlSeconds, contentType } = presignFor(key, s.presignTtlMinutes, e.mediaPresignTtlSeconds);
      return provider.presign(key, ttlSeconds, { contentType });
    },
  };
}

/** The (memoised) rewrite context of one request. */
export function rewriteContextFor(scope: TaskDataRequestScope): Promise<RewriteContext> {
  const k = scope.request ?? scope.project;
  let p = contexts.get(k);
  if (!p) {
    p = buildContext(scope.app, scope.project);
    p.catch(() => contexts.delete(k));
    contexts.set(k, p);
  }
  return p;
}

/**
 * `data` of `task` with storage URIs turned into resolve URLs (or inline presigned URLs) and
 * local-files URLs carrying a media token. Unmatched URIs stay as they are.
 */
export async function resolveTaskDataForApi<T extends Record<string, unknown>>(data: T, task: Pick<TaskItem, 'id' | 'source'>, scope: TaskDataRequestScope): Promise<T> {
  const ctx = await rewriteContextFor(scope);
  return rewriteTaskData(data, ctx, { taskId: task.id, sourceStorageId: task.source?.storageId });
}
