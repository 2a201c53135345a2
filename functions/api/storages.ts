/**
 * Import ("source") and export ("target") storages of every type, Label Studio's routes:
 * `/api/storages/{type}[/{id}]` and `/api/storages/export/{type}[/{id}]`, plus the cross-type
 * listings and type lists, and `…/{id}/sync`. Thin: parse → use case → response.
 */
import {
  createStorage,
  deleteStorage,
  getOwnedStorage,
  listStorages,
  parseStorageType,
  previewStorageFiles,
  serializeStorage,
  storageTypes,
  updateStorage,
  validateStorage,
} from '../../shared/api/storages';
import { pathId } from '../../shared/api/validation';
import { pushDeps } from '../../shared/api/storage-events/deps';
import { cloudEventsHandshake, pushEndpointInfo, receiveEventGrid, receiveGcsPush } from '../../shared/api/storage-events/receive';
import { PUSH_TYPES } from '../../shared/api/storage-events/push-types';
import { requestSync } from '../../shared/sync/request-sync';
import { parseJsonBody } from '../../shared/http/body';
import { createApiHandler, type RequestContext } from '../../shared/http/handler';
import { processApp } from '../../shared/process-app';
import { Router } from '../../shared/http/router';
import { json, noContent } from '../../shared/http/types';
import type { StorageRole } from '../../shared/storage/types';
import type { HttpRequest } from '../../shared/http/types';

/** Registers the per-type routes of one role under `base` (which contains `{type}`). */
function storageRoutes(r: Router<RequestContext>, role: StorageRole, base: string): void {
  r.get(base, async (req, p, { app, principal }) => json(await listStorages(app, principal, role, parseStorageType(app, p.type), req.query)))
    .post(base, async (req, p, { app, principal }) =>
      json(serializeStorage(await createStorage(app, principal, role, parseStorageType(app, p.type), parseJsonBody(req))), 201),
    )
    .post(`${base}/validate`, async (req, p, { app, principal }) => {
      await validateStorage(app, principal, role, parseStorageType(app, p.type), parseJsonBody(req));
      return { statusCode: 200, headers: {} };
    });
  if (role === 'import') {
    r.post(`${base}/files`, async (req, p, { app, principal }) =>
      json(await previewStorageFiles(app, principal, role, parseStorageType(app, p.type), parseJsonBody(req))),
    );
  }
  r.get(`${base}/{id}`, async (_req, p, { app, principal }) =>
    json(serializeStorage(await getOwnedStorage(app, principal, role, parseStorageType(app, p.type), pathId(p.id)))),
  )
    .patch(`${base}/{id}`, async (req, p, { app, principal }) =>
      json(serializeStorage(await updateStorage(app, principal, role, parseStorageType(app, p.type), pathId(p.id), parseJsonBody(req), 'patch'))),
    )
    .put(`${base}/{id}`, async (req, p, { app, principal }) =>
      json(serializeStorage(await updateStorage(app, principal, role, parseStorageType(app, p.type), pathId(p.id), parseJsonBody(req), 'put'))),
    )
    .delete(`${base}/{id}`, async (_req, p, { app, principal }) => {
      await deleteStorage(app, principal, role, parseStorageType(app, p.type), pathId(p.id));
      return noContent();
    });
  // Sync: queue a job and start its execution; answers at once with the queued storage.
  r.post(`${base}/{id}/sync`, async (_req, p, { app, principal }) => {
    const s = await getOwnedStorage(app, principal, role, parseStorageType(app, p.type), pathId(p.id));
    return json(serializeStorage(await requestSync(app.requestSyncDeps(), s)));
  });
}

/**
 * Push endpoints of event sync: `POST` (and the CloudEvents `OPTIONS` handshake) authenticate the
 * notifier themselves (OIDC token or webhook secret), `GET` shows the owner what to subscribe.
 */
function pushRoutes(r: Router<RequestContext>): void {
  for (const type of PUSH_TYPES) {
    const path = `/api/storages/${type}/{id}/events`;
    r.get(path, async (_req, p, { app, principal }) => json(await pushEndpointInfo(app, await getOwnedStorage(app, principal, 'import', type, pathId(p.id)))));
    if (type === 'gcs') {
      r.post(path, async (req, p, { app }) => json(await receiveGcsPush(app, pushDeps(app), pathId(p.id), req)));
      continue;
    }
    r.post(path, async (req, p, { app }) => json(await receiveEventGrid(app, pushDeps(app), type, pathId(p.id), req)))
      .on('OPTIONS', path, async (req, p, { app }) => ({
        statusCode: 200,
        headers: { 'webhook-allowed-origin': await cloudEventsHandshake(app, type, pathId(p.id), req), 'webhook-allowed-rate': '*' },
      }));
  }
}

const PUSH_PATH = new RegExp(`^/api/storages/(${PUSH_TYPES.join('|')})/[^/]+/events/?$`);

/** Notifier requests on a push endpoint carry no Token (they prove themselves in the use case). */
export const isPushRequest = (req: HttpRequest): boolean => req.method !== 'GET' && req.method !== 'HEAD' && PUSH_PATH.test(req.path);

/** Routes of this function (exported for the OpenAPI document and tests). Literal paths first. */
export const router = new Router<RequestContext>()
  .get('/api/storages', async (req, _p, { app, principal }) => json(await listStorages(app, principal, 'import', undefined, req.query)))
  .get('/api/storages/types', async (_req, _p, { app }) => json(storageTypes(app)))
  .get('/api/storages/export', async (req, _p, { app, principal }) => json(await listStorages(app, principal, 'export', undefined, req.query)))
  .get('/api/storages/export/types', async (_req, _p, { app }) => json(storageTypes(app)));
pushRoutes(router);
storageRoutes(router, 'export', '/api/storages/export/{type}');
storageRoutes(router, 'import', '/api/storages/{type}');

export const handler = createApiHandler(router, processApp, { isPublic: isPushRequest });
