/**
 * The only module that knows API Gateway HTTP API (payload format 2.0) events. Converts them to
 * the backend-neutral `HttpRequest` and results back. The local server (`npm start`) builds the
 * same v2 events, so local and deployed requests take one path.
 */
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { HttpRequest, HttpResponse } from './types';

/** Converts a v2 event. Header names are lower-cased; cookies become a `cookie` header. */
export function fromApiGatewayV2(event: APIGatewayProxyEventV2): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  if (event.cookies?.length && !headers.cookie) headers.cookie = event.cookies.join('; ');
  const query: Record<string, string> = {};
  if (event.rawQueryString) {
    for (const [k, v] of new URLSearchParams(event.rawQueryString)) query[k] = v;
  } else {
    for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v;
  }
  return {
    method: (event.requestContext?.http?.method ?? 'GET').toUpperCase(),
    path: event.rawPath || event.requestContext?.http?.path || '/',
    headers,
    query,
    body: event.body ?? undefined,
    isBase64Encoded: Boolean(event.isBase64Encoded),
  };
}

async function drain(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(parts);
}

/**
 * Converts a response to the v2 result. Binary bodies (Buffer, streams) are base64-encoded;
 * a stream is drained first because API Gateway HTTP APIs do not stream (async for that reason).
 */
export async function toApiGatewayV2(res: HttpResponse): Promise<APIGatewayProxyStructuredResultV2> {
  const out: APIGatewayProxyStructuredResultV2 = { statusCode: res.statusCode, headers: { ...res.headers } };
  let body = res.body;
  if (body instanceof Readable) body = await drain(body);
  if (Buffer.isBuffer(body)) {
    out.body = body.toString('base64');
    out.isBase64Encoded = true;
  } else if (typeof body === 'string') {
    out.body = body;
    out.isBase64Encoded = false;
  }
  return out;
}
