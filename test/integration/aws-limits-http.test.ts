/**
 * AWS-strict limits of the HTTP path: Lambda's 6 MB request and response payload limits at the
 * local API Gateway adapter and in the API harness, task pages cut by bytes so they stay under the
 * response limit, CORS answered locally from the policy the CDK construct synthesizes, and the
 * manifest's Lambda timeouts.
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/projects';
import { startHttpServer, type LocalHttpServer } from '../../local/http-server';
import { invokeLocal, LambdaInvocationError, type LambdaHandler } from '../../local/lambda-functions';
import { LAMBDA_MAX_EVENT_BYTES, LAMBDA_MAX_RESPONSE_BYTES } from '../../shared/http/limits';
import { processApp } from '../../shared/process-app';
import { App, Stack } from 'aws-cdk-lib';
import type { CfnApi } from 'aws-cdk-lib/aws-apigatewayv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { HttpApi } from '../../lib/constructs/http-api';
import { client, newTenant, useTestEnvironment } from './api-harness';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time: a pooled one may meet the server's keep-alive timeout.
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

let respond: (event: APIGatewayProxyEventV2) => unknown = () => ({ statusCode: 204 });
let invoked = 0;
const stub = async () =>
  (async (event: unknown) => {
    invoked++;
    return respond(event as APIGatewayProxyEventV2);
  }) as LambdaHandler;

function server(opts: { awsStrict: boolean; corsOrigins?: string[] }): Promise<LocalHttpServer> {
  return startHttpServer({ port: 0, host: '127.0.0.1', region: 'us-east-1', log: () => {}, resolveHandler: stub, ...opts });
}

let strict: LocalHttpServer;
let lenient: LocalHttpServer;
beforeAll(async () => {
  [strict, lenient] = await Promise.all([server({ awsStrict: true }), server({ awsStrict: false })]);
});
afterAll(async () => Promise.all([strict?.close(), lenient?.close()]));

describe('Lambda payload limits at the local API Gateway', () => {
  it('answers 413 like HTTP API when the event would pass Lambda’s 6 MiB invoke limit (body under 10 MB)', async () => {
    invoked = 0;
    const body = Buffer.alloc(LAMBDA_MAX_EVENT_BYTES + 1024, 'a');
    const r = await send(`${strict.url}/api/projects`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body.toString())).toEqual({ message: 'Request Entity Too Large' });
    expect(invoked).toBe(0);
  });

  it('counts the body JSON-escaped in the event: a 4 MB quote-heavy JSON body is refused too', async () => {
    invoked = 0;
    const body = JSON.stringify(Array.from({ length: 1_100_000 }, () => 'a'));
    expect(Buffer.byteLength(body)).toBeLessThan(LAMBDA_MAX_EVENT_BYTES);
    const r = await send(`${strict.url}/api/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status).toBe(413);
    expect(invoked).toBe(0);
  });

  it('strict: a handler response over 6 MB becomes API Gateway’s 500 (the lenient runtime passes it)', async () => {
    respond = () => ({ statusCode: 200, headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(LAMBDA_MAX_RESPONSE_BYTES) });
    const r = await send(`${strict.url}/api/projects`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body.toString())).toEqual({ message: 'Internal Server Error' });
    const loose = await send(`${lenient.url}/api/projects`);
    expect(loose.status).toBe(200);
    expect(loose.body.length).toBe(LAMBDA_MAX_RESPONSE_BYTES);
    respond = () => ({ statusCode: 200, body: 'x'.repeat(LAMBDA_MAX_RESPONSE_BYTES - 100) });
    expect((await send(`${strict.url}/api/projects`)).status).toBe(200);
  });

  it('strict: a streamed body counts as the deployed function returns it (base64), so 5 MB of media is a 500', async () => {
    const media = (n: number) => () => ({ statusCode: 200, headers: { 'content-type': 'video/mp4' }, body: Readable.from([Buffer.alloc(n, 7)]) });
    respond = media(5 * 1024 * 1024);
    const r = await send(`${strict.url}/tasks/1/resolve`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body.toString())).toEqual({ message: 'Internal Server Error' });
    expect((await send(`${lenient.url}/tasks/1/resolve`)).body.length).toBe(5 * 1024 * 1024);
    respond = media(4 * 1024 * 1024);
    const ok = await send(`${strict.url}/tasks/1/resolve`);
    expect(ok.status).toBe(200);
    expect(ok.body.equals(Buffer.alloc(4 * 1024 * 1024, 7))).toBe(true);
  });
});

describe('task pages are cut by bytes', () => {
  it('1,000 tasks of 7 KB with page_size=1000: 200 under the response limit, and `next` gets the rest', async () => {
    useTestEnvironment();
    expect(processApp().env.awsStrict).toBe(true);
    const api = client(handler, (await newTenant('limits')).token);
    const p = (await api('POST', '/api/projects', { title: 'big', label_config: '<View><Text name="t" value="$text"/></View>' })).json.id;
    const text = 'x'.repeat(7 * 1024);
    // Two imports: one 7 MB body would itself be over the Lambda event limit.
    for (let i = 0; i < 2; i++) {
      const r = await api('POST', `/api/projects/${p}/import`, Array.from({ length: 500 }, (_, j) => ({ text: `${i * 500 + j} ${text}` })));
      expect(r.status).toBe(201);
    }
    const first = await api('GET', `/api/tasks?project=${p}&page_size=1000`);
    expect(first.status).toBe(200);
    const payload = Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: first.headers, body: first.text }));
    expect(payload).toBeLessThan(LAMBDA_MAX_RESPONSE_BYTES);
    expect(first.json.tasks.length).toBeGreaterThan(500);
    expect(first.json.tasks.length).toBeLessThan(1000);
    expect(first.json.next).toEqual(expect.any(String));
    const rest = await api('GET', `/api/tasks?project=${p}&page_size=1000&cursor=${encodeURIComponent(first.json.next)}`);
    expect(rest.status).toBe(200);
    expect(rest.json.next).toBeNull();
    const ids = [...first.json.tasks, ...rest.json.tasks].map((t: { id: number }) => t.id);
    expect(new Set(ids).size).toBe(1000);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  }, 60_000);
});

/**
 * `CorsConfiguration` the HTTP API construct puts on its `AWS::ApiGatewayV2::Api`, resolved from
 * the L1 resource (imported functions, no template synthesis: that costs seconds).
 */
function corsConfigurationOf(corsOrigins: string[]) {
  const stack = new Stack(new App(), 'Cors', { env: { account: '123456789012', region: 'us-east-1' } });
  const functions = Object.fromEntries(
    Object.keys(FUNCTIONS).map((n) => [n, lambda.Function.fromFunctionArn(stack, n, `arn:aws:lambda:us-east-1:123456789012:function:${n}`)]),
  ) as Record<FunctionName, lambda.IFunction>;
  const http = new HttpApi(stack, 'Http', { functions, corsOrigins, rateLimit: 10, burstLimit: 20, logRetention: logs.RetentionDays.ONE_DAY });
  const cfn = http.api.node.defaultChild as CfnApi;
  return stack.resolve(cfn.corsConfiguration) as CfnApi.CorsProperty;
}

describe('project pages are cut by bytes', () => {
  it('26 projects of ~250 KB label config: 200 under the limit, the `next` link continues by cursor', async () => {
    useTestEnvironment();
    const api = client(handler, (await newTenant('limits-projects')).token);
    const label_config = `<View><Header value="${'h'.repeat(250 * 1024)}"/><Text name="t" value="$text"/></View>`;
    const created: number[] = [];
    for (let i = 0; i < 26; i++) created.push((await api('POST', '/api/projects', { title: `p${i}`, label_config })).json.id);
    const first = await api('GET', '/api/projects?page_size=100');
    expect(first.status).toBe(200);
    expect(Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: first.headers, body: first.text }))).toBeLessThan(LAMBDA_MAX_RESPONSE_BYTES);
    expect(first.json.count).toBe(26);
    expect(first.json.results.length).toBeLessThan(26);
    expect(first.json.next).toMatch(/^\/api\/projects\?page_size=100&cursor=/);
    const rest = await api('GET', first.json.next);
    expect(rest.status).toBe(200);
    expect(rest.json.next).toBeNull();
    expect([...first.json.results, ...rest.json.results].map((p: { id: number }) => p.id)).toEqual(created);
    const foreign = client(handler, (await newTenant('limits-other')).token);
    expect((await foreign('GET', first.json.next)).status).toBe(400);
  }, 60_000);
});

describe('CORS of npm start equals the synthesized corsPreflight', () => {
  const preflight = (url: string, origin: string) =>
    send(`${url}/api/projects`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });

  it('answers a preflight itself with the headers the construct configures, for `*` and for listed origins', async () => {
    const origins = ['https://label.example.com', 'https://ls.example.com'];
    const anyCfg = corsConfigurationOf(['*']);
    const listedCfg = corsConfigurationOf(origins);
    const listed = await server({ awsStrict: true, corsOrigins: origins });
    try {
      for (const [srv, cfg, origin] of [
        [strict, anyCfg, 'https://anywhere.example'],
        [listed, listedCfg, 'https://ls.example.com'],
      ] as const) {
        invoked = 0;
        const r = await preflight(srv.url, origin);
        expect(r.status).toBe(204);
        expect(invoked).toBe(0);
        expect(r.headers['access-control-allow-origin']).toBe(cfg.allowOrigins?.includes('*') ? '*' : origin);
        expect(cfg.allowOrigins ?? []).toContain(r.headers['access-control-allow-origin']);
        expect(String(r.headers['access-control-allow-methods']).split(',')).toEqual(cfg.allowMethods);
        expect(String(r.headers['access-control-allow-headers']).split(',')).toEqual(cfg.allowHeaders);
        expect(Number(r.headers['access-control-max-age'])).toBe(cfg.maxAge);
        expect(r.headers['access-control-allow-credentials']).toBe(cfg.allowCredentials ? 'true' : undefined);
        respond = () => ({ statusCode: 200, headers: { 'access-control-allow-origin': 'https://evil.example' }, body: '{}' });
        const plain = await send(`${srv.url}/api/projects`, { headers: { origin } });
        expect(plain.headers['access-control-allow-origin']).toBe(r.headers['access-control-allow-origin']);
        expect(String(plain.headers['access-control-expose-headers']).split(',')).toEqual(cfg.exposeHeaders);
      }
      const refused = await preflight(listed.url, 'https://evil.example');
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await listed.close();
    }
  });
});

describe('Lambda timeouts of the local runtime', () => {
  it('an invocation past its timeout fails like Lambda: Sandbox.Timedout, "Task timed out after N seconds"', async () => {
    const slow: LambdaHandler = () => new Promise((r) => setTimeout(r, 2_000).unref());
    const err = await invokeLocal('syncList', slow, {}, { region: 'us-east-1', timeoutSeconds: 0.05 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LambdaInvocationError);
    expect((err as LambdaInvocationError).errorType).toBe('Sandbox.Timedout');
    expect((err as LambdaInvocationError).errorMessage).toBe('Task timed out after 0.05 seconds');
    expect(JSON.parse((err as LambdaInvocationError).stepFunctionsCause())).toMatchObject({ errorType: 'Sandbox.Timedout' });
  });

  it('over HTTP, a function past its own timeout is API Gateway’s 500 (a failed invocation, not the 503 of the integration cap)', async () => {
    const logs: string[] = [];
    const srv = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      region: 'us-east-1',
      log: (m) => logs.push(m),
      timeoutOverrides: { projects: 0.05 },
      resolveHandler: async () => (() => new Promise((r) => setTimeout(() => r({ statusCode: 200 }), 1_000).unref())) as LambdaHandler,
    });
    try {
      const r = await send(`${srv.url}/api/projects`);
      expect(r.status).toBe(500);
      expect(JSON.parse(r.body.toString())).toEqual({ message: 'Internal Server Error' });
      expect(logs.join('\n')).toContain('Task timed out after 0.05 seconds');
    } finally {
      await srv.close();
    }
  });

  it('the context counts down from the timeout, so time-boxed steps see their budget', async () => {
    let remaining = -1;
    await invokeLocal('meta', (_e, ctx) => (remaining = ctx.getRemainingTimeInMillis()), {}, { region: 'us-east-1' });
    expect(remaining).toBeGreaterThan(9_000);
    expect(remaining).toBeLessThanOrEqual(10_000);
  });
});
