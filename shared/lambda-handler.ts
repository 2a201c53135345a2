/**
 * What every Lambda entry point runs around its handler, as middy middlewares: the Powertools
 * Logger gets the Lambda context (function name, request id, cold start) and, for API Gateway
 * events, the API Gateway request id as `correlation_id` (the id of the access log line and of a
 * 500 body); the metrics recorded during the invocation are flushed when it ends, failed or not.
 * The HTTP pipeline (shared/http/handler.ts) uses the same middlewares; the other functions wrap
 * their handler with `lambdaHandler`.
 */
import middy from '@middy/core';
import type { MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import type { AppContext } from './context';
import { getLogger } from './logging';
import { publishMetrics } from './metrics';

/** `requestContext.requestId` of an API Gateway event (REST or HTTP API), if the event is one. */
export function apiGatewayRequestId(event: unknown): string | undefined {
  const id = (event as { requestContext?: { requestId?: unknown } } | undefined)?.requestContext?.requestId;
  return typeof id === 'string' && id ? id : undefined;
}

/**
 * In Lambda one container runs one invocation at a time, so the logger's keys are the request's.
 * Outside it (npm start, tests) concurrent invocations share them; the 500 body and its log line
 * therefore take the id from the event, not from the logger.
 */
const correlationId = (service: string): MiddlewareObj => ({
  before: (request) => {
    const id = apiGatewayRequestId(request.event);
    if (id) getLogger(service).setCorrelationId(id);
  },
});

const flushMetrics = (app: () => AppContext): MiddlewareObj => {
  const flush = () => publishMetrics(app().env.lambdaFunctionName !== undefined);
  return { after: flush, onError: flush };
};

/**
 * The observability middlewares of a function whose logger is `getLogger(service)`, outermost
 * first. `app` gives the process's app (it says whether this process is a Lambda).
 */
export function observability(service: string, app: () => AppContext): MiddlewareObj[] {
  // resetKeys: a warm container must not carry one request's correlation id into the next.
  return [flushMetrics(app), injectLambdaContext(getLogger(service), { resetKeys: true }) as MiddlewareObj, correlationId(service)];
}

/**
 * Wraps a non-HTTP handler (sync steps, stream consumer) with `observability`. The local runtime
 * may invoke without a context; Powertools needs an object.
 */
export function lambdaHandler<E, R>(
  service: string,
  app: () => AppContext,
  handler: (event: E, context: Context) => Promise<R>,
): (event: E, context?: Context) => Promise<R> {
  const h = middy<E, R, Error, Context>().use(observability(service, app)).handler(handler);
  return (event, context) => h(event, context ?? ({} as Context));
}
