/**
 * The Lambda handler pipeline of the API functions, as small middy middlewares:
 * observability (logger context, correlation id, metrics flush; outermost) → error mapping →
 * API Gateway v2 adapter → authentication → router.
 * `functions/api/*.ts` only build a router and call `createApiHandler`.
 */
import middy from '@middy/core';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { AppContext } from '../context';
import { apiGatewayRequestId, observability } from '../lambda-handler';
import { fromApiGatewayV2, toApiGatewayV2 } from './apigw';
import type { Principal } from './auth';
import { toHttpResponse } from './error-response';
import type { Router } from './router';
import type { HttpRequest, HttpResponse } from './types';

/** What a route handler gets besides the request and path params. */
export interface RequestContext {
  app: AppContext;
  /** Present on authenticated routes (all but the public ones). */
  principal: Principal;
}

/** The event as it travels through the pipeline after the adapter. */
interface PipelineEvent {
  raw: APIGatewayProxyEventV2;
  http: HttpRequest;
  principal?: Principal;
}

type Req = middy.Request<PipelineEvent & APIGatewayProxyEventV2, unknown, Error, Context>;

/** The 500 body carries API Gateway's request id, so a client's report finds the access log line. */
const errorMapper = (): MiddlewareObj => ({
  onError: async (request) => {
    const ev = request.event as Partial<PipelineEvent> & APIGatewayProxyEventV2;
    const correlationId = apiGatewayRequestId(ev.raw ?? ev);
    (request as middy.Request).response = await toApiGatewayV2(toHttpResponse(request.error, correlationId));
  },
});

const adapter = (): MiddlewareObj => ({
  before: (request) => {
    const raw = request.event as APIGatewayProxyEventV2;
    (request as middy.Request).event = { raw, http: fromApiGatewayV2(raw) } satisfies PipelineEvent;
  },
  after: async (request) => {
    const r = request as Req;
    const res = r.response as HttpResponse;
    if (r.event.http.method === 'HEAD') delete res.body;
    (request as middy.Request).response = await toApiGatewayV2(res);
  },
});

const auth = (isPublic: (req: HttpRequest) => boolean, app: () => AppContext): MiddlewareObj => ({
  before: async (request) => {
    const ev = (request as Req).event;
    if (isPublic(ev.http)) return;
    ev.principal = await app().authenticate(ev.http);
  },
});

/**
 * Builds a Lambda handler from a router. `app` returns the process's app on every request (the
 * local runtime and tests install another one); it is called once here, so a bad environment
 * fails the module's initialisation instead of a request. `isPublic` marks routes that need no
 * token (only `/health` and the OpenAPI document).
 * @throws Error from `app()` (the environment is invalid)
 */
export function createApiHandler(
  router: Router<RequestContext>,
  app: () => AppContext,
  opts: { isPublic?: (req: HttpRequest) => boolean } = {},
): (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2> {
  app();
  const isPublic = opts.isPublic ?? (() => false);
  const base = async (event: PipelineEvent): Promise<HttpResponse> => {
    const principal = event.principal ?? { orgId: '', userId: 0 };
    return router.handle(event.http, { app: app(), principal });
  };
  const h = middy()
    .use(observability('api', app))
    .use(errorMapper())
    .use(adapter())
    .use(auth(isPublic, app))
    .handler(base as never);
  return ((event: APIGatewayProxyEventV2, context: Context) =>
    h(event as never, context ?? ({} as Context))) as never;
}
