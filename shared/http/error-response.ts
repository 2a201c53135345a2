/**
 * The one place that turns errors into HTTP responses (Label Studio's error shape:
 * `{"status_code", "detail", "validation_errors"}`). Client errors carry their (secret-free)
 * message; anything unknown becomes a generic 500 with a correlation id that is also logged: API
 * Gateway's request id when there is one (it is also in the access log), else a fresh UUID.
 */
import { randomUUID } from 'node:crypto';
import {
  AuthError,
  ConflictError,
  ForbiddenError,
  isLabelsyncError,
  MethodNotAllowedError,
  NotFoundError,
  NotSynchronizableError,
  PayloadTooLargeError,
  StorageError,
  UpstreamError,
  ScheduleError,
  ValidationError,
} from '../errors';
import { getLogger } from '../logging';
import { json, type HttpResponse } from './types';

/**
 * Status of each typed error, decided here once: the error classes carry no status of their own,
 * so the domain core stays free of HTTP and a status cannot disagree with the response body below.
 */
function statusOf(err: unknown): number | undefined {
  if (err instanceof ValidationError || err instanceof StorageError || err instanceof NotSynchronizableError) return 400;
  if (err instanceof AuthError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof MethodNotAllowedError) return 405;
  if (err instanceof ConflictError) return 409;
  if (err instanceof PayloadTooLargeError) return 413;
  if (err instanceof UpstreamError) return 424;
  if (err instanceof ScheduleError) return 502;
  return undefined;
}

/**
 * Maps an error to a response. Never throws. 5xx are logged with a correlation id (the
 * message and stack go to the log only, never to the client).
 */
export function toHttpResponse(err: unknown, requestId?: string): HttpResponse {
  const status = isLabelsyncError(err) ? statusOf(err) : undefined;
  if (status === undefined) {
    const correlationId = requestId ?? randomUUID();
    getLogger('api').error('unhandled error', { correlation_id: correlationId, error: err as Error });
    return json({ status_code: 500, detail: 'Internal server error', correlation_id: correlationId }, 500);
  }
  const e = err as Error;
  // Label Studio answers this one case with a bare message body.
  if (err instanceof NotSynchronizableError) return json({ message: e.message }, 400);
  if (err instanceof ValidationError) {
    return json({ status_code: 400, detail: 'Validation error', exc_info: null, validation_errors: err.fields }, 400);
  }
  if (err instanceof StorageError) {
    // Label Studio reports connection problems as serializer validation errors.
    return json(
      { status_code: 400, detail: 'Validation error', exc_info: null, validation_errors: { non_field_errors: [e.message] } },
      400,
    );
  }
  if (err instanceof UpstreamError) {
    // Label Studio's proxy answers store failures with this exact shape.
    return json({ status_code: 424, error: 'Storage stream failed while proxying data', detail: e.message || 'Stream is None' }, 424);
  }
  const headers: Record<string, string> = status === 401 ? { 'www-authenticate': 'Token' } : {};
  return json({ status_code: status, detail: e.message || defaultDetail(status) }, status, headers);
}

function defaultDetail(status: number): string {
  return (
    { 401: 'Authentication credentials were not provided.', 403: 'Forbidden.', 404: 'Not found.', 405: 'Method not allowed.', 409: 'Conflict.', 413: 'Request body too large.', 424: 'Upstream storage failed.', 502: 'The sync schedule could not be saved.' } as Record<number, string>
  )[status] ?? 'Error';
}
