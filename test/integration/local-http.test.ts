/**
 * The local HTTP front door of `npm start`: real requests through local/http-server.ts become the
 * API Gateway v2 events the deployed handlers get, and the real handlers answer from DynamoDB Local.
 * Event/response mapping details are checked with a recording handler injected through the
 * server's resolver (the production path resolves the manifest modules, covered by the first tests).
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startHttpServer, type LocalHttpServer } from '../../local/http-server';
import type { LambdaHandler } from '../../local/lambda-functions';
import { runningRuntime, startRuntime, type LabelsyncRuntime } from '../../local/runtime';
import type { FunctionName } from '../../functions/manifest';

let runtime: LabelsyncRuntime;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'labelsync-local-http-'));
  runtime = await startRuntime({
    port: 0,
    dataDir,
    dynamodbEndpoint: inject('emulators').dynamodb.endpoint,
    tableName: inject('tableName'),
    stream: false,
    log: () => {},
  });
});

afterAll(async () => {
  await runtime?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(url: string, opts: { method?: string; headers?: Record<string, string | string[]>; body?: Buffer | string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('local runtime over HTTP with the real handlers', () => {
  it('creates a project through the server and reads it back from DynamoDB Local', async () => {
    const auth = { authorization: `Token ${runtime.token}`, 'content-type': 'application/json' };
    const created = await send(`${runtime.url}/api/projects/`, { method: 'POST', headers: auth, body: JSON.stringify({ title: 'via local http' }) });
    expect(created.status).toBe(201);
    const id = JSON.parse(created.body.toString()).id as number;
    const got = await send(`${runtime.url}/api/projects/${id}`, { headers: auth });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body.toString())).toMatchObject({ id, title: 'via local http' });
  });

  it('refuses an API request without a token and answers /health without one', async () => {
    expect((await send(`${runtime.url}/api/projects/`)).status).toBe(401);
    const health = await send(`${runtime.url}/health`);
    expect(health.status).toBe(200);
  });

  it('keeps the generated token across runtimes on the same data dir and publishes runtime.json while running', async () => {
    const again = await startRuntime({
      port: 0,
      dataDir,
      dynamodbEndpoint: inject('emulators').dynamodb.endpoint,
      tableName: inject('tableName'),
      stream: false,
      log: () => {},
    });
    try {
      expect(again.token).toBe(runtime.token);
      expect(again.tokenCreated).toBe(false);
      // Published for tools such as `npm run replay-dlq -- --local` while it runs.
      expect(await runningRuntime(dataDir)).toMatchObject({ pid: process.pid, url: again.url, dynamodbEndpoint: inject('emulators').dynamodb.endpoint });
    } finally {
      await again.stop();
    }
    expect(await runningRuntime(dataDir)).toBeUndefined();
  });
});

describe('API Gateway v2 mapping of the local server', () => {
  let server: LocalHttpServer;
  const seen: { fn: FunctionName; event: APIGatewayProxyEventV2 }[] = [];
  let respond: (event: APIGatewayProxyEventV2) => unknown = () => ({ statusCode: 204 });

  beforeAll(async () => {
    server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      region: 'us-east-1',
      log: () => {},
      resolveHandler: async (fn) =>
        (async (event: unknown) => {
          seen.push({ fn, event: event as APIGatewayProxyEventV2 });
          return respond(event as APIGatewayProxyEventV2);
        }) as LambdaHandler,
    });
  });
  afterAll(async () => server?.close());

  it('builds the payload 2.0 event: route key, raw path and query, joined duplicates, cookies, lower-cased headers', async () => {
    seen.length = 0;
    respond = () => ({ statusCode: 204 });
    await send(`${server.url}/api/projects/7/tasks?a=1&a=2&b=x%20y`, {
      method: 'PATCH',
      headers: { 'X-Custom': ['one', 'two'], Cookie: 'sid=abc; theme=dark', 'User-Agent': 'ua-test', 'Content-Type': 'application/json' },
      body: '{"k":1}',
    });
    expect(seen).toHaveLength(1);
    const { fn, event } = seen[0];
    expect(fn).toBe('projects');
    expect(event.version).toBe('2.0');
    expect(event.routeKey).toBe('ANY /api/projects/{proxy+}');
    expect(event.rawPath).toBe('/api/projects/7/tasks');
    expect(event.rawQueryString).toBe('a=1&a=2&b=x%20y');
    expect(event.queryStringParameters).toEqual({ a: '1,2', b: 'x y' });
    expect(event.pathParameters).toEqual({ proxy: '7/tasks' });
    expect(event.cookies).toEqual(['sid=abc', 'theme=dark']);
    expect(event.headers['x-custom']).toBe('one,two');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.requestContext.http).toMatchObject({ method: 'PATCH', path: '/api/projects/7/tasks', sourceIp: '127.0.0.1', userAgent: 'ua-test' });
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.requestContext.routeKey).toBe(event.routeKey);
    expect(event.body).toBe('{"k":1}');
    expect(event.isBase64Encoded).toBe(false);
  });

  it('base64-encodes binary request bodies and routes bare paths and unknown paths like API Gateway', async () => {
    seen.length = 0;
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0x10]);
    await send(`${server.url}/api/storages`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    await send(`${server.url}/nowhere/else`);
    expect(seen[0].fn).toBe('storages');
    expect(seen[0].event.routeKey).toBe('ANY /api/storages');
    expect(seen[0].event.pathParameters).toBeUndefined();
    expect(seen[0].event.isBase64Encoded).toBe(true);
    expect(Buffer.from(seen[0].event.body!, 'base64').equals(png)).toBe(true);
    expect(seen[1].fn).toBe('meta');
    expect(seen[1].event.routeKey).toBe('$default');
    expect(seen[1].event.queryStringParameters).toBeUndefined();
  });

  it('maps the response: status, headers, several cookies, base64 bodies decoded', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252]);
    respond = () => ({
      statusCode: 201,
      headers: { 'Content-Type': 'application/octet-stream', 'X-Count': 3 },
      cookies: ['a=1; Path=/', 'b=2; HttpOnly'],
      body: bytes.toString('base64'),
      isBase64Encoded: true,
    });
    const r = await send(`${server.url}/api/tasks/1`);
    expect(r.status).toBe(201);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['x-count']).toBe('3');
    expect(r.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(r.body.equals(bytes)).toBe(true);
  });

  it('infers a 200 JSON response from a result without statusCode, as payload 2.0 does', async () => {
    respond = () => ({ hello: 'world' });
    const r = await send(`${server.url}/api/projects`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body.toString())).toEqual({ hello: 'world' });
  });

  it('answers 500 with API Gateway’s body when the handler throws, and 413 over the 10 MB payload limit', async () => {
    respond = () => {
      throw new Error('handler broke');
    };
    const r = await send(`${server.url}/api/projects`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body.toString())).toEqual({ message: 'Internal Server Error' });
    seen.length = 0;
    const big = await send(`${server.url}/api/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20) });
    expect(big.status).toBe(413);
    expect(seen).toHaveLength(0);
  });

  it('streams a Readable body with backpressure: a client that does not read stops the producer', async () => {
    const chunk = 64 * 1024;
    const total = 32 * 1024 * 1024;
    let produced = 0;
    respond = () => ({
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: new Readable({
        read() {
          if (produced >= total) return this.push(null);
          produced += chunk;
          this.push(Buffer.alloc(chunk, 7));
        },
      }),
    });
    const received = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/data/local-files/?d=x`, (res) => {
        res.pause();
        setTimeout(() => {
          // Socket and stream buffers hold a few MB at most; without backpressure all 32 MB would be produced.
          expect(produced).toBeLessThan(total / 2);
          let n = 0;
          res.on('data', (c: Buffer) => (n += c.length));
          res.on('end', () => resolve(n));
          res.resume();
        }, 500);
      });
      req.on('error', reject);
      req.end();
    });
    expect(received).toBe(total);
    expect(produced).toBe(total);
  });
});
