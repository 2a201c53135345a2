/**
 * Test harness of the API suites: real API Gateway HTTP API v2 events into the same `handler`
 * exports Lambda runs, against DynamoDB Local from the global setup. Each test file gets a fresh
 * organization and token. Every response body is recorded so suites can assert that no secret
 * ever appears in any of them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createApp, withParts, type AppContext, type AppParts } from '../../shared/app';
import { installApp, processApp } from '../../shared/process-app';
import { createOrgWithToken } from '../../shared/api/tokens';
import { functionForPath } from '../../functions/manifest';
import { lambdaResponseBytes } from '../../local/apigw-event';
import { LAMBDA_MAX_RESPONSE_BYTES } from '../../shared/http/limits';
import { runAsFunction } from '../../shared/aws/call-recorder';

export type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** Every response body seen in this worker (for the secret-leak assertions). */
export const responseBodies: string[] = [];

/**
 * Points the process at the test table with a private data directory: builds an app from the
 * environment with `parts` and installs it as the process's app; returns it.
 */
export function useTestEnvironment(parts: Parameters<typeof createApp>[1] = {}): AppContext {
  process.env.LABELSYNC_DATA_DIR ??= mkdtempSync(join(tmpdir(), 'labelsync-api-'));
  process.env.LABELSYNC_LOCAL_FILES_STORAGE_ENABLED ??= 'true';
  return installApp(createApp(process.env, parts));
}

/**
 * Installs a copy of the process's app with `parts` (and variables `vars`) replaced; returns it.
 * The replaced app's caches (providers, tokens, signing key) start empty.
 */
export function patchApp(parts: AppParts, vars?: Record<string, string | undefined>): AppContext {
  return installApp(withParts(processApp(), parts, vars));
}

/** A fresh organization and token. */
export async function newTenant(title = 'test'): Promise<{ orgId: string; token: string }> {
  return createOrgWithToken(processApp().db, `${title}-${Date.now()}`);
}

/** Builds a v2 event like API Gateway sends it for the `{proxy+}` route of the path's function. */
export function v2Event(method: string, url: string, opts: { body?: string | Buffer; headers?: Record<string, string> } = {}): APIGatewayProxyEventV2 {
  const [rawPath, rawQueryString = ''] = url.split('?');
  const prefix = { meta: '', projects: '/api/projects', storages: '/api/storages' }[functionForPath(rawPath) as 'meta'] ?? '';
  const isBinary = Buffer.isBuffer(opts.body);
  const queryStringParameters: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) queryStringParameters[k] = queryStringParameters[k] ? `${queryStringParameters[k]},${v}` : v;
  return {
    version: '2.0',
    routeKey: `ANY ${prefix || rawPath}/{proxy+}`,
    rawPath,
    rawQueryString,
    headers: { host: 'api.example.com', 'user-agent': 'vitest', ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    queryStringParameters: rawQueryString ? queryStringParameters : undefined,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: `req-${Math.random().toString(36).slice(2)}`,
      routeKey: `ANY ${rawPath}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: opts.body === undefined ? undefined : isBinary ? (opts.body as Buffer).toString('base64') : (opts.body as string),
    isBase64Encoded: isBinary,
  };
}

export interface ApiResult {
  status: number;
  headers: Record<string, string>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** A client bound to a handler and a token. `body` objects are JSON-encoded; strings sent raw. */
export function client(handler: ApiHandler, token?: string) {
  return async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult> => {
    const raw = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const event = v2Event(method, url, { body: raw as string | Buffer | undefined, headers: { ...(token ? { authorization: `Token ${token}` } : {}), ...headers } });
    // AWS calls are attributed to the function API Gateway would route the path to (IAM recorder).
    let res = await runAsFunction(functionForPath(event.rawPath), () => handler(event, {} as Context));
    // What API Gateway answers when Lambda refuses the response (Function.ResponseSizeTooLarge).
    if (processApp().env.awsStrict && lambdaResponseBytes(res) > LAMBDA_MAX_RESPONSE_BYTES) res = { statusCode: 500, body: '{"message":"Internal Server Error"}' };
    const text = res.body === undefined ? '' : res.isBase64Encoded ? Buffer.from(res.body, 'base64').toString('utf8') : res.body;
    responseBodies.push(text);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode ?? 200, headers: (res.headers ?? {}) as Record<string, string>, text, json: parsed };
  };
}
