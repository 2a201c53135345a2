/**
 * A JSON client of a running local runtime (`startRuntime`): the requests a script or the SDK
 * sends over HTTP, with the runtime's token.
 */
import type { LabelsyncRuntime } from '../../local/runtime';

export type RuntimeApi = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>;

/** `runtime` is read on each call, so the client can be made before the runtime has started. */
export function runtimeApi(runtime: () => Pick<LabelsyncRuntime, 'url' | 'token'>): RuntimeApi {
  return async (method, path, body) => {
    const { url, token } = runtime();
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined };
  };
}
