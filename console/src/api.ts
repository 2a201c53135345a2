/**
 * The console's one client of the labelsync API: same origin, `Authorization: Token …` from the
 * tab's session storage (never a URL or a cookie), JSON in and out, a timeout on every call, and
 * Label Studio's error shape turned into an ApiError with field and non-field messages.
 */

const TOKEN_KEY = 'labelsync.token';
const TIMEOUT_MS = 30_000;

export const getToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (t: string): void => sessionStorage.setItem(TOKEN_KEY, t);
export const clearToken = (): void => sessionStorage.removeItem(TOKEN_KEY);

/** An API answer other than 2xx, with its messages in readable form. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Messages per field (`validation_errors` without `non_field_errors`). */
    readonly fields: Record<string, string[]> = {},
    /** Messages not tied to a field (`non_field_errors`, `detail`). */
    readonly general: string[] = [],
  ) {
    super(message);
  }
}

type UnauthorizedListener = () => void;
let onUnauthorized: UnauthorizedListener = () => {};
/** Called when the API answers 401 (the token is unknown or was revoked). */
export function setUnauthorizedListener(l: UnauthorizedListener): void {
  onUnauthorized = l;
}

function messages(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((m) => (typeof m === 'string' ? m : JSON.stringify(m)));
  if (typeof v === 'string') return [v];
  return v === undefined || v === null ? [] : [JSON.stringify(v)];
}

/** Builds an ApiError from a response body (any shape; non-JSON bodies are summarised). */
export function errorFrom(status: number, text: string): ApiError {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  if (!body) return new ApiError(status, `HTTP ${status}: ${text.slice(0, 200) || 'no response body'}`);
  const fields: Record<string, string[]> = {};
  const general: string[] = [];
  const ve = body.validation_errors;
  if (ve && typeof ve === 'object') {
    for (const [k, v] of Object.entries(ve as Record<string, unknown>)) {
      if (k === 'non_field_errors') general.push(...messages(v));
      else fields[k] = messages(v);
    }
  }
  const detail = typeof body.detail === 'string' ? body.detail : typeof body.message === 'string' ? body.message : `HTTP ${status}`;
  if (general.length === 0 && Object.keys(fields).length === 0) general.push(detail);
  if (typeof body.correlation_id === 'string') general.push(`Correlation id: ${body.correlation_id}`);
  const summary = [...general, ...Object.entries(fields).map(([k, v]) => `${k}: ${v.join(' ')}`)].join(' ');
  return new ApiError(status, summary || detail, fields, general);
}

/**
 * Calls the API. Resolves with the parsed JSON (undefined for an empty body); rejects with an
 * ApiError (status 0 for a network failure or timeout).
 */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Token ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ctrl.signal });
  } catch (e) {
    const why = ctrl.signal.aborted ? `no answer within ${TIMEOUT_MS / 1000} s` : (e as Error).message;
    throw new ApiError(0, `The server could not be reached (${why}).`, {}, [`The server could not be reached (${why}).`]);
  } finally {
    clearTimeout(timer);
  }
  const text = await res.text();
  if (res.status === 401) onUnauthorized();
  if (!res.ok) throw errorFrom(res.status, text);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A readable message for any error (ApiError or not). */
export function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
