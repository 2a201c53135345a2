import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MethodNotAllowedError, NotFoundError, PayloadTooLargeError, StorageError, ValidationError } from '../../shared/errors';
import { Router } from '../../shared/http/router';
import { parseJsonBody } from '../../shared/http/body';
import { fromApiGatewayV2, toApiGatewayV2 } from '../../shared/http/apigw';
import { toHttpResponse } from '../../shared/http/error-response';
import { json, type HttpRequest } from '../../shared/http/types';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

const req = (body: string | undefined, isBase64Encoded = false): HttpRequest => ({ method: 'POST', path: '/', headers: {}, query: {}, body, isBase64Encoded });

describe('router', () => {
  const r = new Router<null>()
    .get('/api/things', async () => json('list'))
    .get('/api/things/types', async () => json('types'))
    .get('/api/things/{id}', async (_q, p) => json(p))
    .post('/api/things/{id}/run', async (_q, p) => json(p));

  it('matches with and without a trailing slash and decodes params', () => {
    expect(r.match('GET', '/api/things').pattern).toBe('/api/things');
    expect(r.match('GET', '/api/things/').pattern).toBe('/api/things');
    expect(r.match('GET', '/api/things/a%20b/').params).toEqual({ id: 'a b' });
    expect(r.match('POST', '/api/things/7/run/').params).toEqual({ id: '7' });
    expect(r.match('HEAD', '/api/things').pattern).toBe('/api/things');
  });

  it('prefers routes added first', () => {
    expect(r.match('GET', '/api/things/types').pattern).toBe('/api/things/types');
  });

  it('throws 404 for unknown paths and 405 for known paths with other methods', () => {
    expect(() => r.match('GET', '/api/other')).toThrow(NotFoundError);
    expect(() => r.match('GET', '/api/things/1/2')).toThrow(NotFoundError);
    expect(() => r.match('DELETE', '/api/things')).toThrow(MethodNotAllowedError);
  });

  it('never matches a parameter across a slash (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((s) => !s.includes('/')), (seg) => {
        const m = r.match('GET', `/api/things/${encodeURIComponent(seg)}`);
        expect(m.params.id === seg || m.pattern === '/api/things/types').toBe(true);
      }),
    );
  });
});

describe('json body', () => {
  it('parses JSON, base64 bodies, and treats empty as undefined', () => {
    expect(parseJsonBody(req('{"a":1}'))).toEqual({ a: 1 });
    expect(parseJsonBody(req(Buffer.from('[1]').toString('base64'), true))).toEqual([1]);
    expect(parseJsonBody(req(undefined))).toBeUndefined();
    expect(parseJsonBody(req('  '))).toBeUndefined();
  });

  it('rejects malformed JSON (400), deep nesting (400) and oversized bodies (413)', () => {
    expect(() => parseJsonBody(req('{'))).toThrow(ValidationError);
    expect(() => parseJsonBody(req('['.repeat(33) + ']'.repeat(33)))).toThrow(ValidationError);
    expect(parseJsonBody(req('['.repeat(32) + ']'.repeat(32)))).toBeDefined();
    expect(() => parseJsonBody(req('"' + 'x'.repeat(2000) + '"'), { maxBytes: 1000 })).toThrow(PayloadTooLargeError);
  });
});

describe('error mapping', () => {
  it('maps typed errors to their status in the LS shape', () => {
    const v = toHttpResponse(new ValidationError({ bucket: ['bad'] }));
    expect(v.statusCode).toBe(400);
    expect(JSON.parse(v.body as string)).toEqual({ status_code: 400, detail: 'Validation error', exc_info: null, validation_errors: { bucket: ['bad'] } });
    const s = toHttpResponse(new StorageError('not_found', "bucket 'x' does not exist"));
    expect(JSON.parse(s.body as string).validation_errors.non_field_errors).toEqual(["bucket 'x' does not exist"]);
    expect(toHttpResponse(new NotFoundError('gone')).statusCode).toBe(404);
    expect(toHttpResponse(new MethodNotAllowedError('no')).statusCode).toBe(405);
    expect(toHttpResponse(new PayloadTooLargeError('big')).statusCode).toBe(413);
  });

  it('hides unknown errors behind a 500 with a correlation id', () => {
    const r = toHttpResponse(new Error('secret internals: aws_secret_access_key=abc'));
    expect(r.statusCode).toBe(500);
    const body = JSON.parse(r.body as string);
    expect(body.detail).toBe('Internal server error');
    expect(body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body).not.toContain('abc');
  });
});

describe('API Gateway v2 adapter', () => {
  const event = {
    version: '2.0',
    routeKey: 'ANY /api/projects/{proxy+}',
    rawPath: '/api/projects/1/',
    rawQueryString: 'a=1&b=x%20y&a=2',
    headers: { Authorization: 'Token t', 'Content-Type': 'application/json' },
    cookies: ['c=1'],
    requestContext: { http: { method: 'patch', path: '/api/projects/1/' } },
    body: 'eyJhIjoxfQ==',
    isBase64Encoded: true,
  } as unknown as APIGatewayProxyEventV2;

  it('converts events: lower-case headers, decoded query (last value wins), method, body', () => {
    expect(fromApiGatewayV2(event)).toEqual({
      method: 'PATCH',
      path: '/api/projects/1/',
      headers: { authorization: 'Token t', 'content-type': 'application/json', cookie: 'c=1' },
      query: { a: '2', b: 'x y' },
      body: 'eyJhIjoxfQ==',
      isBase64Encoded: true,
    });
  });

  it('base64-encodes binary and streamed bodies, passes text through', async () => {
    expect(await toApiGatewayV2({ statusCode: 200, headers: {}, body: 'hi' })).toEqual({ statusCode: 200, headers: {}, body: 'hi', isBase64Encoded: false });
    const bin = await toApiGatewayV2({ statusCode: 200, headers: {}, body: Buffer.from([0, 255]) });
    expect(bin).toMatchObject({ body: 'AP8=', isBase64Encoded: true });
    const streamed = await toApiGatewayV2({ statusCode: 206, headers: { 'content-range': 'bytes 0-2/10' }, body: Readable.from([Buffer.from('ab'), Buffer.from('c')]) });
    expect(Buffer.from(streamed.body!, 'base64').toString()).toBe('abc');
    expect(await toApiGatewayV2({ statusCode: 204, headers: {} })).toEqual({ statusCode: 204, headers: {} });
  });
});
