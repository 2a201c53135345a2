/**
 * Backend-neutral HTTP request and response. The API Gateway adapter (`apigw.ts`) and any other
 * front end (the local server goes through the adapter too) convert to and from these shapes;
 * nothing else in `shared/` knows an event format.
 */
import type { Readable } from 'node:stream';

export interface HttpRequest {
  /** Upper-case method (`GET`, `POST`, ...). */
  method: string;
  /** Raw path without query string, e.g. `/api/projects/3/`. */
  path: string;
  /** Header names are lower-case; repeated headers are joined with `,`. */
  headers: Record<string, string>;
  /** Decoded query parameters; a repeated parameter keeps its last value. */
  query: Record<string, string>;
  /** Body as received (base64 text when `isBase64Encoded`). */
  body: string | undefined;
  isBase64Encoded: boolean;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** A `Readable` is drained by the adapter (API Gateway cannot stream). */
  body?: string | Buffer | Readable;
}

/** A JSON response with the given status (default 200). */
export function json(body: unknown, statusCode = 200, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** An empty response (204 by default, Label Studio's answer to DELETE). */
export function noContent(statusCode = 204): HttpResponse {
  return { statusCode, headers: {} };
}
