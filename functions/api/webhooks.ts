/**
 * Label Studio's webhook routes (`/api/webhooks/`) and the delivery log. A function of its own: it
 * writes only webhook items (and their id counter), so its table grant is limited to those
 * families, and webhook traffic does not share the projects function's concurrency. Thin: parse →
 * use case → response.
 */
import { createApiHandler, type RequestContext } from '../../shared/http/handler';
import { parseJsonBody } from '../../shared/http/body';
import { Router } from '../../shared/http/router';
import { json, noContent } from '../../shared/http/types';
import { pathId } from '../../shared/api/validation';
import { processApp } from '../../shared/process-app';
import { actionsInfo } from '../../shared/webhooks/actions';
import { createWebhook, deleteWebhookApi, getOwnedWebhookApi, listWebhookDeliveries, listWebhooks, updateWebhookApi } from '../../shared/webhooks/api';

/** Routes of this function (exported for the OpenAPI document and tests). */
export const router = new Router<RequestContext>()
  .get('/api/webhooks/info', async (req) => json(actionsInfo(req.query['organization-only'])))
  .get('/api/webhooks', async (req, _p, { app, principal }) => json(await listWebhooks(app, principal, req.query)))
  .post('/api/webhooks', async (req, _p, { app, principal }) => json(await createWebhook(app, principal, parseJsonBody(req)), 201))
  .get('/api/webhooks/{id}', async (_r, p, { app, principal }) => json(await getOwnedWebhookApi(app, principal, pathId(p.id))))
  .patch('/api/webhooks/{id}', async (req, p, { app, principal }) => json(await updateWebhookApi(app, principal, pathId(p.id), parseJsonBody(req), { full: false })))
  .put('/api/webhooks/{id}', async (req, p, { app, principal }) => json(await updateWebhookApi(app, principal, pathId(p.id), parseJsonBody(req), { full: true })))
  .delete('/api/webhooks/{id}', async (_r, p, { app, principal }) => {
    await deleteWebhookApi(app, principal, pathId(p.id));
    return noContent();
  })
  .get('/api/webhooks/{id}/deliveries', async (req, p, { app, principal }) => json(await listWebhookDeliveries(app, principal, pathId(p.id), req.query)));

// Label Studio serves the action catalogue without authentication.
export const handler = createApiHandler(router, processApp, { isPublic: (req) => /^\/api\/webhooks\/info\/?$/.test(req.path) });
