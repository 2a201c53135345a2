/**
 * The CORS policy of the HTTP API, defined once: the CDK construct configures API Gateway's
 * `corsPreflight` from it, and the local HTTP server answers preflights and decorates responses
 * with it, so a browser UI behaves the same against `npm start` and the deployed API.
 */

export interface CorsPolicy {
  allowOrigins: string[];
  /** `*` is API Gateway's `ANY`. */
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  allowCredentials: boolean;
  maxAgeSeconds: number;
}

/** The policy for the configured origins (`*` anywhere in the list means any origin). */
export function corsPolicy(origins: string[]): CorsPolicy {
  return {
    allowOrigins: origins.includes('*') ? ['*'] : origins,
    allowMethods: ['*'],
    allowHeaders: ['Authorization', 'Content-Type', 'Range', 'If-None-Match', 'If-Modified-Since'],
    // Media is streamed with ranges and cached by ETag; the UI reads these.
    exposeHeaders: ['Content-Length', 'Content-Range', 'Content-Disposition', 'ETag', 'Accept-Ranges'],
    // A header token, not cookies: credentials mode is neither needed nor allowed with '*'.
    allowCredentials: false,
    maxAgeSeconds: 3600,
  };
}

/** The `Access-Control-Allow-Origin` value for a request's `Origin`, or undefined when not allowed. */
export function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  if (policy.allowOrigins.includes('*')) return '*';
  return policy.allowOrigins.includes(origin) ? origin : undefined;
}

/**
 * Headers API Gateway answers a preflight (`OPTIONS` with `Origin` and
 * `Access-Control-Request-Method`) with, without invoking any integration; none for an origin
 * outside the policy.
 */
export function preflightHeaders(policy: CorsPolicy, origin: string | undefined): Record<string, string> {
  const allow = allowedOrigin(policy, origin);
  if (!allow) return {};
  return {
    'access-control-allow-origin': allow,
    'access-control-allow-methods': policy.allowMethods.join(','),
    'access-control-allow-headers': policy.allowHeaders.join(','),
    'access-control-max-age': String(policy.maxAgeSeconds),
    ...(policy.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
  };
}

/** Headers API Gateway adds to an ordinary (non-preflight) response for an allowed `Origin`. */
export function responseCorsHeaders(policy: CorsPolicy, origin: string | undefined): Record<string, string> {
  const allow = allowedOrigin(policy, origin);
  if (!allow) return {};
  return {
    'access-control-allow-origin': allow,
    ...(policy.exposeHeaders.length ? { 'access-control-expose-headers': policy.exposeHeaders.join(',') } : {}),
    ...(policy.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
  };
}

/** Whether a request is a CORS preflight. */
export function isPreflight(method: string | undefined, headers: Record<string, string | string[] | undefined>): boolean {
  return method?.toUpperCase() === 'OPTIONS' && !!headers.origin && !!headers['access-control-request-method'];
}
