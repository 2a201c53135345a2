/**
 * Size and shape limits that protect storage rather than the HTTP layer: DynamoDB refuses items
 * over 400 KB and attributes nested deeper than 32 levels with a ValidationException, which would
 * otherwise surface as a 500 (API) or a failed write of a whole batch (sync). Checking the same
 * numbers before writing turns them into per-field 400s and per-row sync failures.
 */

/** DynamoDB's nesting cap for attribute values (maps and lists). */
export const DYNAMODB_MAX_NESTING = 32;

/**
 * Deepest JSON accepted inside a stored value (task `data`, annotation `result`, ...): the item's
 * attribute itself takes one level, and one more is kept as margin for wrapper objects.
 */
export const MAX_STORED_JSON_DEPTH = DYNAMODB_MAX_NESTING - 2;

/*
 * Field caps in characters (a character is up to 4 UTF-8 bytes). Chosen so that one item with
 * every field at its cap stays below DynamoDB's 400 KB: a storage has ~40 short fields
 * (≤ 160 KB), a description (≤ 80 KB) and sealed credentials (≤ 90 KB); a project has a
 * description and a label config (≤ 256 KB).
 */
/** Longest free-text field (descriptions). */
export const MAX_TEXT_FIELD_CHARS = 20_000;
/** Longest short string field of a storage (bucket, prefix, endpoint, keys, path...). */
export const MAX_SHORT_FIELD_CHARS = 1_024;
/** Longest service-account JSON (a real one is ~2.3 KB). */
export const MAX_CREDENTIALS_JSON_CHARS = 16_384;
/** Largest label config, UTF-8 bytes. */
export const MAX_LABEL_CONFIG_BYTES = 256 * 1024;
/** Largest annotation `result`, serialised UTF-8 bytes (an annotation is one item). */
export const MAX_ANNOTATION_RESULT_BYTES = 300 * 1024;

/**
 * Nesting depth of a JSON value, counting arrays and objects (a scalar is 0, `[]` is 1), and
 * stopping as soon as `limit` is exceeded. Iterative: a recursive walk would overflow the stack on
 * exactly the inputs it exists to refuse.
 */
export function jsonDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/*
 * Lambda's synchronous invocation payload limits, in bytes of JSON. The request (the API Gateway
 * event) may be at most 6 MiB (`RequestEntityTooLargeException: Request must be smaller than
 * 6291456 bytes`); the response at most 6 MiB + 100 bytes (`Function.ResponseSizeTooLarge:
 * Response payload size exceeded maximum allowed payload size (6291556 bytes)`). Both are below
 * HTTP API's own 10 MB payload limit, so Lambda's are the ones a client meets.
 */
/** Largest event JSON a synchronous invoke accepts. */
export const LAMBDA_MAX_EVENT_BYTES = 6 * 1024 * 1024;
/** Largest response JSON a synchronous invoke can return. */
export const LAMBDA_MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;
/**
 * Byte budget of one list page, counted as the response payload Lambda measures (the body is a
 * JSON string inside the result, so its quotes and backslashes count twice). The margin below
 * LAMBDA_MAX_RESPONSE_BYTES covers the result's headers and the page's envelope fields.
 */
export const LIST_RESPONSE_BUDGET_BYTES = 5 * 1024 * 1024;

/** Bytes `value` adds to a JSON array inside a response body, as Lambda counts it (comma included). */
export function responseBytesOf(value: unknown): number {
  // JSON of the JSON string, minus its two quotes, plus the separating comma.
  return Buffer.byteLength(JSON.stringify(JSON.stringify(value))) - 1;
}

/**
 * How many leading `items` fit in `budget` response bytes; at least one, so a page always moves
 * forward (a single item is bounded by DynamoDB's 400 KB item limit).
 */
export function countWithinResponseBudget(items: readonly unknown[], budget = LIST_RESPONSE_BUDGET_BYTES): number {
  let used = 0;
  for (let i = 0; i < items.length; i++) {
    used += responseBytesOf(items[i]);
    if (used > budget) return Math.max(1, i);
  }
  return items.length;
}
