/** Reading raw config values the same way in every definition: blanks are absent, strings trimmed. */

/** Undefined, null or a blank string. */
export const blank = (v: unknown): boolean => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/**
 * `String(v)` that never throws: an object whose `toString`/`valueOf` is not a function (a JSON
 * body can carry `{"toString": 1}`) falls back to the `[object Object]` tag.
 */
function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** The trimmed string of a value, undefined when blank. */
export const str = (v: unknown): string | undefined => (blank(v) ? undefined : safeString(v).trim());

/** Trimmed string of a stored field for identity comparisons ('' when absent). */
export const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : v === null || v === undefined ? '' : safeString(v));

/** `field must be an http(s) URL` unless blank or http(s). */
export function checkHttpUrl(value: unknown, field: string, add: (field: string, message: string) => void): void {
  if (str(value) && !/^https?:\/\//i.test(str(value)!)) add(field, `${field} must be an http(s) URL`);
}

/** `This field is required.` when blank. */
export function requireValue(value: unknown, field: string, add: (field: string, message: string) => void): void {
  if (!str(value)) add(field, 'This field is required.');
}
