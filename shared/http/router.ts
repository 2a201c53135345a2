/**
 * A tiny path router: patterns like `/api/projects/{id}/import`, trailing slash optional on every
 * route (Label Studio clients send both forms; we never redirect). A path that matches no pattern
 * throws NotFoundError; a path that matches only under other methods throws MethodNotAllowedError.
 */
import { MethodNotAllowedError, NotFoundError } from '../errors';
import type { HttpRequest, HttpResponse } from './types';

/** Path parameters by name, already URL-decoded. */
export type PathParams = Record<string, string>;

export type RouteHandler<C> = (req: HttpRequest, params: PathParams, ctx: C) => Promise<HttpResponse>;

interface Route<C> {
  method: string;
  pattern: string;
  regex: RegExp;
  names: string[];
  handler: RouteHandler<C>;
}

function compile(pattern: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const body = pattern
    .replace(/\/+$/, '')
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)(\+?)\}$/.exec(seg);
      if (m) {
        names.push(m[1]);
        // `{name+}` (last segment only) takes the rest of the path, slashes included.
        return m[2] ? '(.+?)' : '([^/]+)';
      }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { regex: new RegExp(`^${body}/?$`), names };
}

/** Routes keyed by method and pattern; `C` is whatever the handlers need (principal, context). */
export class Router<C> {
  private readonly routes: Route<C>[] = [];

  /** Adds a route. Patterns added first win when two match the same path. */
  on(method: string, pattern: string, handler: RouteHandler<C>): this {
    this.routes.push({ method: method.toUpperCase(), pattern, handler, ...compile(pattern) });
    return this;
  }
  get(p: string, h: RouteHandler<C>): this { return this.on('GET', p, h); }
  post(p: string, h: RouteHandler<C>): this { return this.on('POST', p, h); }
  patch(p: string, h: RouteHandler<C>): this { return this.on('PATCH', p, h); }
  put(p: string, h: RouteHandler<C>): this { return this.on('PUT', p, h); }
  delete(p: string, h: RouteHandler<C>): this { return this.on('DELETE', p, h); }

  /** Every registered `(method, pattern)`, for the OpenAPI document and tests. */
  list(): { method: string; pattern: string }[] {
    return this.routes.map((r) => ({ method: r.method, pattern: r.pattern }));
  }

  /**
   * Finds the route for a request. HEAD is answered by GET routes.
   * @throws NotFoundError when no pattern matches the path
   * @throws MethodNotAllowedError when a pattern matches but not for this method
   */
  match(method: string, path: string): { handler: RouteHandler<C>; params: PathParams; pattern: string } {
    const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
    const normalized = path.replace(/\/{2,}/g, '/');
    let pathMatched = false;
    for (const r of this.routes) {
      const hit = r.regex.exec(normalized);
      if (!hit) continue;
      pathMatched = true;
      if (r.method !== m) continue;
      const params: PathParams = {};
      r.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(hit[i + 1]);
        } catch {
          params[n] = hit[i + 1];
        }
      });
      return { handler: r.handler, params, pattern: r.pattern };
    }
    if (pathMatched) throw new MethodNotAllowedError(`Method "${method.toUpperCase()}" not allowed.`);
    throw new NotFoundError('Not found.');
  }

  /** Dispatches a request to its route. Errors propagate to the error middleware. */
  async handle(req: HttpRequest, ctx: C): Promise<HttpResponse> {
    const { handler, params } = this.match(req.method, req.path);
    return handler(req, params, ctx);
  }
}
