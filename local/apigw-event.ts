/**
 * Turns a Node HTTP request into the API Gateway HTTP API (payload format 2.0) event the deployed
 * handler receives, and a handler's result back into an HTTP response, with API Gateway's rules:
 * lower-cased headers (duplicates comma-joined), `cookies` taken out of the headers, decoded
 * `queryStringParameters` (duplicates comma-joined), base64 bodies for binary content types, and
 * the 2.0 response inference (a result without `statusCode` is a 200 JSON body).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ROUTES } from '../functions/manifest';

/** Account id used in every local ARN and event (twelve zeros, like the AWS docs' placeholders). */
export const LOCAL_ACCOUNT_ID = '000000000000';
const LOCAL_API_ID = 'local';

/** The API Gateway route a path matches: its key and, for `{proxy+}` routes, the greedy part. */
export interface RouteMatch {
  routeKey: string;
  /** Raw (still percent-encoded) remainder after `<prefix>/`, for `pathParameters.proxy`. */
  proxy?: string;
}

/**
 * The API Gateway route that would match `rawPath`: every manifest route is registered as the
 * bare path and `path/{proxy+}` (method ANY); anything else falls to `$default`.
 */
export function matchRoute(rawPath: string): RouteMatch {
  let best: { path: string; proxy: boolean } | undefined;
  for (const r of ROUTES) {
    const bare = rawPath === r.path;
    // `{proxy+}` needs at least one character after the slash; a bare trailing slash matches neither
    // route in API Gateway, so it falls to $default (the handler still gets the right rawPath).
    const under = rawPath.startsWith(r.path + '/') && rawPath.length > r.path.length + 1;
    if ((bare || under) && (!best || r.path.length > best.path.length)) best = { path: r.path, proxy: under };
  }
  if (!best) return { routeKey: '$default' };
  return best.proxy ? { routeKey: `ANY ${best.path}/{proxy+}`, proxy: rawPath.slice(best.path.length + 1) } : { routeKey: `ANY ${best.path}` };
}

const TEXT_TYPES = [
  /^text\//i,
  /^application\/(json|xml|javascript|x-www-form-urlencoded|graphql|x-ndjson)\b/i,
  /^application\/[^;]+\+(json|xml)\b/i,
];

/** Whether API Gateway would pass a body of this content type as text (else base64). */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  return TEXT_TYPES.some((re) => re.test(contentType.trim()));
}

/** `25/Nov/2026:15:10:00 +0000`, the format of `requestContext.time`. */
function apigwTime(d: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export interface RequestParts {
  method: string;
  /** Path plus optional `?query`, exactly as on the request line. */
  url: string;
  /** Alternating names and values, as Node's `req.rawHeaders`. */
  rawHeaders: string[];
  body: Buffer;
  sourceIp: string;
  /** Port the local server listens on (for `x-forwarded-port`). */
  localPort?: number;
}

/** Builds the payload 2.0 event of a request. */
export function toApiGatewayEvent(req: RequestParts): APIGatewayProxyEventV2 {
  const { rawPath, rawQueryString } = splitUrl(req.url);
  const { routeKey, proxy } = matchRoute(rawPath);
  const { headers, cookies } = splitHeaders(req.rawHeaders);
  const requestId = randomUUID();
  addForwardingHeaders(headers, req, requestId);
  const queryStringParameters = parseQuery(rawQueryString);
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    ...(proxy !== undefined ? { pathParameters: { proxy: safeDecode(proxy) } } : {}),
    requestContext: requestContext(req, headers, rawPath, routeKey, requestId),
    isBase64Encoded: false,
  };
  if (req.body.length > 0) {
    const text = isTextContentType(headers['content-type']);
    event.body = text ? req.body.toString('utf8') : req.body.toString('base64');
    event.isBase64Encoded = !text;
  }
  return event;
}

/** Lower-cased headers (duplicates comma-joined) and the cookies taken out of them. */
function splitHeaders(rawHeaders: string[]): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1];
    if (name === 'cookie') {
      for (const c of value.split(';')) if (c.trim()) cookies.push(c.trim());
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return { headers, cookies };
}

/** The headers API Gateway adds in front of the handler (forwarding, trace id). */
function addForwardingHeaders(headers: Record<string, string>, req: RequestParts, requestId: string): void {
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${req.sourceIp}` : req.sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  if (req.localPort !== undefined) headers['x-forwarded-port'] ??= String(req.localPort);
  headers['x-amzn-trace-id'] ??= `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${requestId.replace(/-/g, '').slice(0, 24)}`;
}

/** Decoded query parameters (duplicates comma-joined); undefined without a query string. */
function parseQuery(rawQueryString: string): Record<string, string> | undefined {
  if (!rawQueryString) return undefined;
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) {
    params[k] = k in params ? `${params[k]},${v}` : v;
  }
  return params;
}

function requestContext(
  req: RequestParts,
  headers: Record<string, string>,
  rawPath: string,
  routeKey: string,
  requestId: string,
): APIGatewayProxyEventV2['requestContext'] {
  const now = new Date();
  const host = headers.host ?? 'localhost';
  return {
    accountId: LOCAL_ACCOUNT_ID,
    apiId: LOCAL_API_ID,
    domainName: host,
    domainPrefix: host.split('.')[0],
    http: {
      method: req.method.toUpperCase(),
      path: rawPath,
      protocol: 'HTTP/1.1',
      sourceIp: req.sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId,
    routeKey,
    stage: '$default',
    time: apigwTime(now),
    timeEpoch: now.getTime(),
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function splitUrl(url: string): { rawPath: string; rawQueryString: string } {
  const q = url.indexOf('?');
  return q < 0 ? { rawPath: url || '/', rawQueryString: '' } : { rawPath: url.slice(0, q) || '/', rawQueryString: url.slice(q + 1) };
}

/** Reads the request body up to `maxBytes`; returns undefined when it is larger (caller answers 413). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes) over = true; // keep draining so the client sees the response, not a reset
    else parts.push(b);
  }
  return over ? undefined : Buffer.concat(parts);
}

/** A handler's result, normalised: what the HTTP server writes. */
export interface HttpResult {
  statusCode: number;
  /** Header name → value(s); `set-cookie` may carry several values. */
  headers: Record<string, string | string[]>;
  /** Buffered body, or a stream the server pipes with backpressure. */
  body: Buffer | Readable;
}

/**
 * Applies API Gateway's payload 2.0 response rules: a structured result (has `statusCode`) is
 * taken as is (`cookies` become `set-cookie` headers, `isBase64Encoded` bodies are decoded); any
 * other value is a 200 `application/json` whose body is the value (strings as they are, anything
 * else JSON-encoded). A `Readable` body (the resolver's streamed media) is passed through.
 */
export function fromHandlerResult(result: unknown): HttpResult {
  const isStructured = typeof result === 'object' && result !== null && 'statusCode' in result;
  if (!isStructured) {
    if (result === undefined || result === null) return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(0) };
    const body = typeof result === 'string' ? result : JSON.stringify(result);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body, 'utf8') };
  }
  const r = result as {
    statusCode: number;
    headers?: Record<string, string | number | boolean>;
    cookies?: string[];
    body?: unknown;
    isBase64Encoded?: boolean;
  };
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
  if (r.cookies?.length) {
    const existing = headers['set-cookie'];
    headers['set-cookie'] = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), ...r.cookies];
  }
  let body: Buffer | Readable;
  if (r.body instanceof Readable) body = r.body;
  else if (r.body === undefined || r.body === null) body = Buffer.alloc(0);
  else if (typeof r.body === 'string') body = Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8');
  else if (Buffer.isBuffer(r.body)) body = r.body;
  else body = Buffer.from(JSON.stringify(r.body), 'utf8');
  return { statusCode: Number(r.statusCode) || 200, headers, body };
}

/**
 * Size of a handler's result as Lambda measures it against its response limit: the JSON it
 * serialises. A `Readable` body (local streaming only) is not counted: the deployed function
 * buffers it, and its size is unknown before it is sent.
 */
export function lambdaResponseBytes(result: unknown): number {
  if (result === undefined) return 0;
  if (typeof result === 'object' && result !== null && (result as { body?: unknown }).body instanceof Readable) return 0;
  return Buffer.byteLength(JSON.stringify(result) ?? '');
}

/**
 * A result with a `Readable` body as the deployed function returns it: drained and base64-encoded
 * (HTTP API does not stream). `over` when the body alone passes Lambda's response limit: reading
 * stops there and the stream is destroyed.
 */
export async function bufferLikeLambda(result: unknown, maxResponseBytes: number): Promise<{ over: boolean; result: unknown }> {
  const body = typeof result === 'object' && result !== null ? (result as { body?: unknown }).body : undefined;
  if (!(body instanceof Readable)) return { over: false, result };
  const maxRaw = Math.floor((maxResponseBytes * 3) / 4);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > maxRaw) {
      body.destroy();
      return { over: true, result };
    }
    parts.push(b);
  }
  return { over: false, result: { ...(result as object), body: Buffer.concat(parts).toString('base64'), isBase64Encoded: true } };
}
