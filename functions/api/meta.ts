/**
 * `/health` (no authentication), `/api/openapi.json`, and the 404 for every path no other
 * function owns.
 */
import { openApiDocument } from '../../shared/api/openapi';
import { createApiHandler, type RequestContext } from '../../shared/http/handler';
import { processApp } from '../../shared/process-app';
import { Router } from '../../shared/http/router';
import { json } from '../../shared/http/types';

/** Routes of this function (exported for tests). */
export const router = new Router<RequestContext>()
  .get('/health', async () => json({ status: 'UP' }))
  .get('/api/openapi.json', async () => json(openApiDocument()));

export const handler = createApiHandler(router, processApp, { isPublic: (req) => /^\/health\/?$/.test(req.path) });
