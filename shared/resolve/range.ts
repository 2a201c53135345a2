/**
 * HTTP Range handling of the resolve proxy.
 *
 * Per-response caps, one per runtime (`PROXY_MAX_RANGE_BYTES`): API Gateway + Lambda buffers the
 * whole response and refuses bodies over 6 MB (base64 adds a third), so a proxied range is at
 * most 4 MiB there; the local server streams and uses Label Studio's 8 MiB
 * (`RESOLVER_PROXY_MAX_RANGE_SIZE`). Clients (video players) then re-request with Range.
 */

export type ProxyRuntime = 'aws' | 'local';

/** Max bytes a single proxied ranged response spans (plus LS's inclusive extra byte). */
export const PROXY_MAX_RANGE_BYTES: Readonly<Record<ProxyRuntime, number>> = {
  aws: 4 * 1024 * 1024,
  local: 8 * 1024 * 1024,
};

/**
 * Largest whole (un-ranged) object the runtime can answer in one response. In AWS the Lambda
 * payload limit is 6 MB after base64 (≈4.5 MB raw); larger objects need Range or presign.
 * Locally the body is streamed, so there is no limit.
 */
export const PROXY_MAX_WHOLE_BYTES: Readonly<Record<ProxyRuntime, number>> = {
  aws: 4 * 1024 * 1024,
  local: Number.POSITIVE_INFINITY,
};

/**
 * Label Studio's Range rewrite table: `bytes=0-` and `bytes=0-0` pass unchanged;
 * `bytes=N-` and `bytes=N-0` → `bytes=N-(N+max)`; `bytes=A-B` → `bytes=A-min(A+max,B)`;
 * suffix `bytes=-K` → `bytes=0-max`; anything unparsable → `bytes=0-`.
 * With `capOpen` (AWS, where nothing may exceed the cap) `bytes=0-` and `bytes=0-0` are capped
 * to `bytes=0-max` as well.
 */
export function rewriteRange(header: string, max: number, capOpen = false): string {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return capOpen ? `bytes=0-${max}` : 'bytes=0-';
  if (m[1] === '') return `bytes=0-${max}`; // suffix range
  const a = Number(m[1]);
  const b = m[2] === '' ? undefined : Number(m[2]);
  if (!Number.isSafeInteger(a) || (b !== undefined && !Number.isSafeInteger(b))) return capOpen ? `bytes=0-${max}` : 'bytes=0-';
  if (a === 0 && (b === undefined || b === 0)) return capOpen ? `bytes=0-${max}` : `bytes=0-${m[2]}`;
  if (b === undefined || b === 0) return `bytes=${a}-${a + max}`;
  return `bytes=${a}-${Math.min(a + max, b)}`;
}

/** A parsed `bytes=A-B` / `bytes=A-` header (after `rewriteRange`, never a suffix form). */
export function parseRange(header: string): { start: number; end?: number } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === '' ? undefined : Number(m[2]);
  if (end !== undefined && end < start) return undefined;
  return { start, end };
}
