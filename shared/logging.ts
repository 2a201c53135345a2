/**
 * Structured logging: one Powertools Logger per function, with secret field names redacted at
 * serialisation time (the JSON replacer sees every key of every logged object, however deep),
 * so a careless `logger.info('x', {storage})` cannot leak a credential.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { STORAGE_SECRET_FIELDS } from './storage/backends';

/**
 * Field names whose values never reach a log line: every storage type's secret fields (from the
 * backend definitions), plus the envelope, auth header, tokens and SDK credential names.
 */
export const SECRET_FIELD_NAMES: ReadonlySet<string> = new Set([
  ...STORAGE_SECRET_FIELDS,
  'secrets',
  'authorization',
  'token',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
]);

export const REDACTED = '[REDACTED]';

/**
 * `name=value` / `"name": "value"` pairs inside free text (error messages, URLs): secret field
 * names plus the signature parts of presigned URLs.
 */
const INLINE_SECRET = new RegExp(
  `((?:${[...SECRET_FIELD_NAMES, 'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token', 'X-Goog-Signature', 'X-Goog-Credential', 'sig', 'AccountKey'].join('|')})["']?\\s*[:=]\\s*["']?)([^\\s"',&;]+)`,
  'gi',
);

/** Redacts inline secrets in a string (see INLINE_SECRET). */
export function redactText(text: string): string {
  return text.replace(INLINE_SECRET, `$1${REDACTED}`);
}

/** JSON replacer that blanks secret-named fields and inline secrets in strings; also usable with `JSON.stringify`. */
export function redactReplacer(key: string, value: unknown): unknown {
  if (key && SECRET_FIELD_NAMES.has(key) && value !== null && value !== undefined && value !== '') return REDACTED;
  if (typeof value === 'string') return redactText(value);
  return value;
}

/** A deep copy of `value` with secret-named fields replaced by `[REDACTED]`. */
export function redactSecrets<T>(value: T): T {
  if (value === undefined) return value;
  return JSON.parse(JSON.stringify(value, redactReplacer)) as T;
}

const loggers = new Map<string, Logger>();

/**
 * The process's logger for a service name (one per Lambda function). Log level comes from
 * Powertools' own `POWERTOOLS_LOG_LEVEL`; tests run at WARN unless told otherwise.
 */
export function getLogger(serviceName = 'labelsync'): Logger {
  let l = loggers.get(serviceName);
  if (!l) {
    l = new Logger({
      serviceName,
      logLevel: (process.env.POWERTOOLS_LOG_LEVEL as 'INFO' | undefined) ?? (process.env.LABELSYNC_TEST ? 'WARN' : 'INFO'),
      jsonReplacerFn: redactReplacer,
    });
    loggers.set(serviceName, l);
  }
  return l;
}
