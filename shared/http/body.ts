/**
 * JSON request body parsing with limits: a size cap (413) and a nesting-depth cap (400), so a
 * hostile body can neither exhaust memory nor blow the stack of later recursive walks.
 */
import { PayloadTooLargeError, ValidationError } from '../errors';
import { DYNAMODB_MAX_NESTING, jsonDepth, LAMBDA_MAX_EVENT_BYTES } from './limits';
import type { HttpRequest } from './types';

/**
 * Default body cap: the largest body that can reach a handler at all. HTTP API accepts 10 MB, but
 * the Lambda event that carries the body may be at most 6 MiB of JSON, and the body counts in it
 * JSON-escaped (every quote and backslash twice) or base64-encoded (binary types, 4/3): a JSON
 * body near this cap is refused by API Gateway with a 413 before the handler runs.
 */
export const MAX_BODY_BYTES = LAMBDA_MAX_EVENT_BYTES;
/**
 * Deep enough for any task/annotation JSON we have seen; no deeper than DynamoDB's 32 nesting
 * levels, which would otherwise refuse the write with a 500 (`[{"data": …}]` keeps data ≤ 30).
 */
export const MAX_JSON_DEPTH = DYNAMODB_MAX_NESTING;

/** The raw body bytes (base64 decoded when needed). */
export function bodyBytes(req: HttpRequest): Buffer {
  if (req.body === undefined || req.body === '') return Buffer.alloc(0);
  return req.isBase64Encoded ? Buffer.from(req.body, 'base64') : Buffer.from(req.body, 'utf8');
}

/**
 * Parses the body as JSON. An empty body yields `undefined`. Form-encoded bodies are not accepted
 * (JSON only), a wrong content type is tolerated because many clients omit it.
 * @throws PayloadTooLargeError over `maxBytes`
 * @throws ValidationError for malformed JSON or nesting deeper than `maxDepth`
 */
export function parseJsonBody(
  req: HttpRequest,
  opts: { maxBytes?: number; maxDepth?: number } = {},
): unknown {
  const maxBytes = opts.maxBytes ?? MAX_BODY_BYTES;
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  // Cheap pre-check on the encoded length before decoding anything.
  const approx = req.body === undefined ? 0 : req.isBase64Encoded ? Math.floor((req.body.length * 3) / 4) : Buffer.byteLength(req.body);
  if (approx > maxBytes) throw new PayloadTooLargeError(`Request body is larger than ${maxBytes} bytes.`);
  const raw = bodyBytes(req).toString('utf8');
  if (raw.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw new ValidationError({ non_field_errors: [`JSON parse error - ${(e as Error).message}`] });
  }
  if (jsonDepth(value, maxDepth) > maxDepth) {
    throw new ValidationError({ non_field_errors: [`JSON nesting deeper than ${maxDepth} levels.`] });
  }
  return value;
}
