/**
 * `/health` (no authentication), `/api/openapi.json`, the browser console (`/`, `/console/...`,
 * no authentication: static files only), and the 404 for every path no other function owns.
 */
import { openApiDocument } from '../../shared/api/openapi';
import { consoleResponse, isConsolePath } from '../../shared/http/console-static';
import { createApiHandler, type RequestContext } from '../../shared/http/handler';
import { processApp } from '../../shared/process-app';
import { Router } from '../../shared/http/router';
import { json, type HttpRequest, type HttpResponse } from '../../shared/http/types';

// Loaded on the first console request: the embedded assets stay out of the cold start of /health.
const serveConsole = async (req: HttpRequest): Promise<HttpResponse> => {
  const { loadConsoleAssets } = await import('../../console/assets');
  return consoleResponse(await loadConsoleAssets(), req.path.replace(/\/{2,}/g, '/'), req.headers['if-none-match']);
};

/** Routes of this function (exported for tests). */
export const router = new Router<RequestContext>()
  .get('/health', async () => json({ status: 'UP' }))
  .get('/api/openapi.json', async () => json(openApiDocument()))
  .get('/', serveConsole)
  .get('/console', serveConsole)
  .get('/console/{path+}', serveConsole);

export const handler = createApiHandler(router, processApp, {
  isPublic: (req) => /^\/health\/?$/.test(req.path) || isConsolePath(req.path),
});
