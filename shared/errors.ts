/**
 * Typed errors of the domain core. They carry no HTTP status: each maps to exactly one status in
 * `shared/http/error-response.ts` (the statuses noted below), and nothing else in the code base
 * picks status codes for errors.
 * Messages of client errors (4xx) reach the caller, so they must never contain a secret;
 * unknown errors become a generic 500 and are only logged.
 */

/** Per-field messages, in Label Studio's `validation_errors` shape. */
export type FieldErrors = Record<string, string[]>;

export class LabelsyncError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input: 400 with `{validation_errors: {field: [msg]}}`. */
export class ValidationError extends LabelsyncError {
  readonly fields: FieldErrors;
  constructor(fields: FieldErrors | string, options?: { cause?: unknown }) {
    const f = typeof fields === 'string' ? { non_field_errors: [fields] } : fields;
    super(Object.entries(f).map(([k, v]) => `${k}: ${v.join('; ')}`).join(', '), options);
    this.fields = f;
  }
  /** Convenience for a single field. */
  static field(field: string, message: string): ValidationError {
    return new ValidationError({ [field]: [message] });
  }
}

/**
 * Sync requested for a storage with `synchronizable=false`: 400 with Label Studio's bare
 * `{"message": "Storage <id> is not synchronizable"}` body (not the usual error wrapper).
 */
export class NotSynchronizableError extends LabelsyncError {}

/** Missing or wrong credentials: 401. */
export class AuthError extends LabelsyncError {}

/** Authenticated but not allowed (e.g. a media token that does not match): 403. */
export class ForbiddenError extends LabelsyncError {}

/** Unknown id, or an id of another organization (never reveal which): 404. */
export class NotFoundError extends LabelsyncError {}

/** Route exists but not for this method: 405. */
export class MethodNotAllowedError extends LabelsyncError {}

/** State conflict (e.g. concurrent modification): 409. */
export class ConflictError extends LabelsyncError {}

/** Request body or object over a size limit: 413. */
export class PayloadTooLargeError extends LabelsyncError {}

/** An upstream store failed while we were serving its data: 424 (Label Studio's proxy code). */
export class UpstreamError extends LabelsyncError {}

/**
 * A storage's sync schedule could not be created, updated or deleted (the scheduler failed or
 * is not configured): 502, the message names the schedule. Nothing of the storage was saved.
 */
export class ScheduleError extends LabelsyncError {}

/**
 * A storage backend refused or failed an operation. `reason` is a readable, secret-free
 * sentence ("bucket 'x' does not exist"). `code` lets callers branch without parsing text.
 */
export class StorageError extends LabelsyncError {
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export type StorageErrorCode =
  | 'not_found' // bucket/container/path or object missing
  | 'access_denied' // credentials rejected or lacking permission
  | 'unreachable' // endpoint did not answer within the timeout
  | 'too_large' // object over the configured read cap
  | 'forbidden_endpoint' // endpoint on a private/loopback/metadata address and not allowed
  | 'invalid' // configuration the backend cannot use
  | 'unsupported' // operation not available for this backend
  | 'failed'; // anything else, message already sanitised

export function isLabelsyncError(e: unknown): e is LabelsyncError {
  return e instanceof LabelsyncError;
}
