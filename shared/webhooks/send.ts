/**
 * One webhook POST: the URL passes the SSRF guard again at send time and the connection is pinned
 * to the checked address (a DNS answer that changes after the check cannot redirect it), redirects
 * are never followed, and the whole exchange (connect + response headers) has one timeout.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { StorageError } from '../errors';
import { checkEndpoint, pinnedLookup } from '../storage/endpoint-guard';

export interface SendResult {
  ok: boolean;
  /** Worth another attempt: network error, timeout, 408, 429, 5xx. */
  retryable: boolean;
  status: number | null;
  error: string | null;
}

export interface SendInput {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowedEndpoints: string[];
}

const retryableStatus = (s: number) => s === 408 || s === 429 || s >= 500;

/** POSTs `body` to `url`; never throws. */
export async function sendWebhook(input: SendInput): Promise<SendResult> {
  let lookup;
  try {
    lookup = pinnedLookup(await checkEndpoint(input.url, 'url', { allowedEndpoints: input.allowedEndpoints, timeoutMs: Math.min(5_000, input.timeoutMs) }));
  } catch (e) {
    const retryable = e instanceof StorageError && e.code === 'unreachable';
    return { ok: false, retryable, status: null, error: (e as Error).message };
  }
  const url = new URL(input.url);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SendResult>((resolve) => {
    const done = (r: SendResult) => {
      clearTimeout(timer);
      resolve(r);
    };
    const req = request(url, {
      method: 'POST',
      headers: { ...input.headers, 'content-length': String(Buffer.byteLength(input.body)) },
      lookup,
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, retryable: true, status: null, error: `no response within ${input.timeoutMs} ms` });
    }, input.timeoutMs);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      const ok = status >= 200 && status < 300;
      const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
      done({ ok, retryable: !ok && retryableStatus(status), status, error: ok ? null : `HTTP ${status}${redirect}` });
    });
    req.on('error', (e) => done({ ok: false, retryable: true, status: null, error: e.message }));
    req.end(input.body);
  });
}
