/**
 * Resolve function: `/tasks/{id}/resolve|presign`, `/projects/{id}/resolve|presign`,
 * `/data/local-files/`. Unlike the other API functions it authenticates optionally (a media token
 * in the query replaces `Authorization` for browser media tags) and, under the local runtime,
 * returns the proxied body as a stream instead of draining it.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { fromApiGatewayV2, toApiGatewayV2 } from '../../shared/http/apigw';
import { tokenFromHeader } from '../../shared/http/auth';
import { toHttpResponse } from '../../shared/http/error-response';
import { Router } from '../../shared/http/router';
import type { HttpRequest, HttpResponse } from '../../shared/http/types';
import { parseId } from '../../shared/api/validation';
import { lambdaHandler } from '../../shared/lambda-handler';
import { processApp } from '../../shared/process-app';
import { listImportStorages, localFilesStoragePaths } from '../../shared/resolve/deps';
import { serveLocalFile } from '../../shared/resolve/local-files';
import type { ProxyRuntime } from '../../shared/resolve/range';
import { resolveMedia } from '../../shared/resolve/resolve-media';

/** The local runtime (local/apigw-event.ts) marks its events with this placeholder account id. */
const LOCAL_ACCOUNT_ID = '000000000000';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

interface Ctx {
  orgId?: string;
  runtime: ProxyRuntime;
}

async function resolveRoute(req: HttpRequest, target: { taskId: number } | { projectId: number }, ctx: Ctx): Promise<HttpResponse> {
  const app = processApp();
  return resolveMedia(
    {
      db: app.db,
      signingKey: await app.signingKey(),
      runtime: ctx.runtime,
      listImportStorages: (projectId) => listImportStorages(app, projectId),
      providerFor: (storage) => app.providerForStorage(storage),
      mediaPresignTtlSeconds: app.env.mediaPresignTtlSeconds,
    },
    { method: req.method, target, principalOrgId: ctx.orgId, query: req.query, headers: req.headers },
  );
}

/** Routes of this function (exported for the OpenAPI drift test). */
export const router = new Router<Ctx>();
for (const verb of ['resolve', 'presign']) {
  router.get(`/tasks/{id}/${verb}`, (req, p, ctx) => resolveRoute(req, { taskId: parseId(p.id) }, ctx));
  router.get(`/projects/{id}/${verb}`, (req, p, ctx) => resolveRoute(req, { projectId: parseId(p.id) }, ctx));
}
router.get('/data/local-files', async (req, _p, ctx) => {
  const app = processApp();
  const e = app.env;
  return serveLocalFile(
    {
      settings: { servingEnabled: e.localFilesServingEnabled, storageEnabled: e.localFilesStorageEnabled, documentRoot: e.localFilesDocumentRoot, dataDir: e.dataDir },
      // Only needed for tokens; avoid loading the key for a disabled feature.
      signingKey: e.localFilesServingEnabled && !ctx.orgId && req.query.token ? await app.signingKey() : Buffer.alloc(0),
      storagePathsOfOrg: (orgId) => localFilesStoragePaths(app, orgId),
      db: app.db,
    },
    { method: req.method, principalOrgId: ctx.orgId, query: req.query, headers: req.headers },
  );
});

export const handler = lambdaHandler('api', processApp, async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  // API Gateway + Lambda buffers responses (6 MB cap); the local server streams Readable bodies.
  const runtime: ProxyRuntime = event.requestContext?.accountId === LOCAL_ACCOUNT_ID ? 'local' : 'aws';
  let res: HttpResponse;
  let method = 'GET';
  try {
    const req = fromApiGatewayV2(event);
    method = req.method;
    const orgId = tokenFromHeader(req.headers.authorization) ? (await processApp().authenticate(req)).orgId : undefined;
    res = await router.handle(req, { orgId, runtime });
  } catch (e) {
    res = toHttpResponse(e, event.requestContext?.requestId);
  }
  if (method === 'HEAD' && res.body !== undefined) {
    if (typeof res.body === 'object' && 'destroy' in res.body) res.body.destroy();
    delete res.body;
  }
  if (runtime === 'local') return res as unknown as APIGatewayProxyStructuredResultV2;
  return toApiGatewayV2(res);
});
