/**
 * The local stand-in for API Gateway: every request becomes the payload 2.0 event of the function
 * the manifest routes its path to, and that same handler answers. API Gateway's own answers are
 * reproduced where a deployed client would see them: 413 for bodies over the 10 MB API limit or
 * events over Lambda's 6 MB invoke limit, 500 when the handler throws or passes its manifest
 * timeout, 503 past the integration's 30 s,
 * CORS preflights answered from the same policy the CDK construct configures, and (AWS-strict
 * mode) 500 for a response over Lambda's 6 MB response limit, streamed bodies buffered first as
 * the deployed function does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FUNCTIONS, functionForPath, type FunctionName } from '../functions/manifest';
import { LAMBDA_MAX_EVENT_BYTES, LAMBDA_MAX_RESPONSE_BYTES } from '../shared/http/limits';
import { corsPolicy, isPreflight, preflightHeaders, responseCorsHeaders, type CorsPolicy } from '../shared/http/cors';
import { bufferLikeLambda, fromHandlerResult, lambdaResponseBytes, readBody, toApiGatewayEvent } from './apigw-event';
import { invokeLocal, LambdaInvocationError, type HandlerResolver } from './lambda-functions';

/** API Gateway HTTP API payload limit. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** HTTP API integration timeout ceiling. */
const MAX_INTEGRATION_SECONDS = 30;

export interface HttpServerOptions {
  port: number;
  host: string;
  region: string;
  resolveHandler: HandlerResolver;
  /** Where errors of handlers are reported (default console.error). Never gets request bodies. */
  log?: (message: string) => void;
  /** AWS-strict mode: also enforce Lambda's response size limit. */
  awsStrict?: boolean;
  /** Origins of the CORS policy (the CDK `corsOrigins` context; default `*`, as there). */
  corsOrigins?: string[];
  /** Seconds replacing a function's manifest timeout (tests). */
  timeoutOverrides?: Partial<Record<FunctionName, number>>;
}

export interface LocalHttpServer {
  server: Server;
  /** `http://host:port` with the bound port (useful with port 0). */
  url: string;
  port: number;
  close(): Promise<void>;
}

function gatewayAnswer(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * API Gateway answers a preflight itself (204, no integration) and puts its own CORS headers on
 * every other response for an allowed origin, ignoring any the integration returns.
 * @returns true when the request was a preflight and has been answered
 */
function applyCors(req: IncomingMessage, res: ServerResponse, cors: CorsPolicy): boolean {
  const origin = req.headers.origin;
  if (isPreflight(req.method, req.headers)) {
    res.writeHead(204, preflightHeaders(cors, origin));
    res.end();
    req.resume();
    return true;
  }
  for (const [k, v] of Object.entries(responseCorsHeaders(cors, origin))) res.setHeader(k, v);
  return false;
}

/** The result as the deployed function returns it, and whether Lambda would refuse it for its size. */
async function limitLikeLambda(result: unknown): Promise<{ over: boolean; result: unknown }> {
  const buffered = await bufferLikeLambda(result, LAMBDA_MAX_RESPONSE_BYTES);
  return { over: buffered.over || lambdaResponseBytes(buffered.result) > LAMBDA_MAX_RESPONSE_BYTES, result: buffered.result };
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: HttpServerOptions, port: number): Promise<void> {
  const log = opts.log ?? ((m: string) => console.error(m));
  if (applyCors(req, res, corsPolicy(opts.corsOrigins ?? ['*']))) return;
  if (Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BYTES) {
    // Refuse before reading: a huge upload is not drained, the connection is closed instead.
    res.setHeader('connection', 'close');
    gatewayAnswer(res, 413, 'Request Entity Too Large');
    res.on('finish', () => req.destroy());
    return;
  }
  const body = await readBody(req, MAX_REQUEST_BYTES);
  if (!body) return gatewayAnswer(res, 413, 'Request Entity Too Large');
  const event = toApiGatewayEvent({
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    rawHeaders: req.rawHeaders,
    body,
    sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
    localPort: port,
  });
  if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_MAX_EVENT_BYTES) return gatewayAnswer(res, 413, 'Request Entity Too Large');
  const fn = functionForPath(event.rawPath);
  const lambdaTimeout = opts.timeoutOverrides?.[fn] ?? FUNCTIONS[fn].timeout;
  let result: unknown;
  try {
    const handler = await opts.resolveHandler(fn);
    result = await invokeLocal(fn, handler, event, { region: opts.region, timeoutSeconds: Math.min(lambdaTimeout, MAX_INTEGRATION_SECONDS) });
  } catch (e) {
    // The function's own timeout is a failed invocation (500); only the integration's 30 s cap,
    // hit by a function allowed to run longer, is HTTP API's 503.
    const timedOut = e instanceof LambdaInvocationError && e.errorType === 'Sandbox.Timedout' && lambdaTimeout > MAX_INTEGRATION_SECONDS;
    // Only the method, the path and the error: query strings may carry tokens.
    log(`[http] ${event.requestContext.http.method} ${event.rawPath} → ${fn} ${timedOut ? 'timed out' : 'failed'}: ${e instanceof Error ? e.name + ': ' + e.message : String(e)}`);
    return gatewayAnswer(res, timedOut ? 503 : 500, timedOut ? 'Service Unavailable' : 'Internal Server Error');
  }
  let over = false;
  if (opts.awsStrict) ({ over, result } = await limitLikeLambda(result));
  if (over) {
    // Lambda fails the invocation with Function.ResponseSizeTooLarge; HTTP API reports a failed
    // integration as a 500 with its generic body (the handler's own status is lost).
    log(`[http] ${event.rawPath} → ${fn}: response over ${LAMBDA_MAX_RESPONSE_BYTES} bytes (Function.ResponseSizeTooLarge)`);
    return gatewayAnswer(res, 500, 'Internal Server Error');
  }
  await writeResult(res, result, (m) => log(`[http] ${event.rawPath} → ${fn}: ${m}`));
}

/** Writes a handler's result as API Gateway would (502 for a malformed one); streams are piped. */
async function writeResult(res: ServerResponse, result: unknown, log: (message: string) => void): Promise<void> {
  let out;
  try {
    out = fromHandlerResult(result);
  } catch (e) {
    log(`malformed response: ${e instanceof Error ? e.message : String(e)}`);
    return gatewayAnswer(res, 502, 'Internal Server Error');
  }
  for (const [k, v] of Object.entries(out.headers)) if (!k.startsWith('access-control-')) res.setHeader(k, v);
  res.statusCode = out.statusCode;
  if (out.body instanceof Readable) {
    try {
      // pipeline applies backpressure and destroys the source if the client goes away.
      await pipeline(out.body, res);
    } catch (e) {
      if (!res.destroyed) res.destroy();
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ERR_STREAM_PREMATURE_CLOSE') log(`stream failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    return;
  }
  if (!res.hasHeader('content-length')) res.setHeader('content-length', out.body.length);
  res.end(out.body);
}

/** Starts listening; resolves once the port is bound. */
export async function startHttpServer(opts: HttpServerOptions): Promise<LocalHttpServer> {
  let boundPort = opts.port;
  const server = createServer((req, res) => {
    handle(req, res, opts, boundPort).catch((e) => {
      (opts.log ?? console.error)(`[http] unexpected: ${e instanceof Error ? e.message : String(e)}`);
      gatewayAnswer(res, 500, 'Internal Server Error');
    });
  });
  // Handlers may legitimately take up to the integration timeout; Node's defaults must not cut them.
  server.requestTimeout = (MAX_INTEGRATION_SECONDS + 30) * 1000;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  boundPort = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    url: `http://${hostForUrl}:${boundPort}`,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight streamed downloads would hold close() open indefinitely.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      }),
  };
}
