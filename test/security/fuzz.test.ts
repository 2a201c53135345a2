/**
 * Property-based fuzzing (fast-check, bounded runs):
 * - URI and key encodings round-trip (fileuri base64, uriFor → parseStorageUri, encodeKeyPath);
 * - URI tokenizing never throws and only reports spans that are really in the text;
 * - config validation never throws, and the endpoint guard only answers typed errors;
 * - an HTTP pass over every route of functions/manifest.ts ROUTES and the routers, through real
 *   API Gateway v2 events, with random methods, paths, headers and malformed bodies: zero 5xx.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { ROUTES, functionForPath, type FunctionName } from '../../functions/manifest';
import { handler as meta, router as metaRouter } from '../../functions/api/meta';
import { handler as projects, router as projectsRouter } from '../../functions/api/projects';
import { handler as storages, router as storagesRouter } from '../../functions/api/storages';
import { handler as resolve } from '../../functions/api/resolve';
import { handler as webhooks, router as webhooksRouter } from '../../functions/api/webhooks';
import { StorageError } from '../../shared/errors';
import type { CheckedEndpoint } from '../../shared/storage/endpoint-guard';
import { encodeFileUri, decodeFileUri } from '../../shared/resolve/fileuri';
import { parseStorageUri } from '../../shared/resolve/schemes';
import { findUris } from '../../shared/resolve/tokenizer';
import { encodeKeyPath } from '../../shared/storage/common';
import { checkEndpoint, endpointHost, isForbiddenAddress } from '../../shared/storage/endpoint-guard';
import { parseConfigErrors, uriFor } from '../../shared/storage/registry';
import { STORAGE_TYPES, type StorageConfig } from '../../shared/storage/types';
import { newTenant, useTestEnvironment, v2Event, patchApp } from '../integration/api-harness';

type Handler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const HANDLERS: Partial<Record<FunctionName, Handler>> = { meta, projects, storages, webhooks, resolve: resolve as unknown as Handler };

/** Keys as object stores allow them: any unicode, no empty segments at the ends. */
const keyArb = fc
  .array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/') && s !== '.' && s !== '..'), { minLength: 1, maxLength: 4 })
  .map((segs) => segs.join('/'));

describe('fuzz: URI and key encodings', () => {
  it('fileuri base64 round-trips every storage URI', () => {
    fc.assert(
      fc.property(fc.constantFrom('s3', 'gs', 'azure-blob', 'azure-spi'), fc.stringMatching(/^[a-z0-9][a-z0-9.-]{1,20}$/), keyArb, (scheme, bucket, key) => {
        const uri = `${scheme}://${bucket}/${key}`;
        expect(decodeFileUri(encodeFileUri(uri))).toBe(uri);
      }),
      { numRuns: 300 },
    );
  });

  it('decodeFileUri never throws on arbitrary input and returns either undefined or a URI', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (raw) => {
        const out = decodeFileUri(raw);
        expect(out === undefined || out.includes('://')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('uriFor → parseStorageUri gives back the bucket and the exact key, for every cloud type', () => {
    fc.assert(
      fc.property(fc.constantFrom('s3', 's3s', 'gcs', 'azure', 'azure_spi'), fc.stringMatching(/^[a-z0-9][a-z0-9-]{2,20}$/), keyArb, (type, bucket, key) => {
        const config = { type, role: 'import', bucket, container: bucket } as StorageConfig;
        const parsed = parseStorageUri(uriFor(config, key, '/'));
        expect(parsed).toMatchObject({ bucket, key });
      }),
      { numRuns: 300 },
    );
  });

  it('encodeKeyPath encodes each segment exactly once (decodes back, no raw reserved characters)', () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        const enc = encodeKeyPath(key);
        expect(enc.split('/').map(decodeURIComponent).join('/')).toBe(key);
        expect(enc).not.toMatch(/[ ?#%](?![0-9A-F]{2})/);
      }),
      { numRuns: 300 },
    );
  });

  it('local-files URIs from uriFor stay inside the storage path for any key', () => {
    fc.assert(
      fc.property(keyArb, (key) => {
        const u = uriFor({ type: 'localfiles', role: 'import', path: '/data/ds' }, key, '/data');
        const d = new URL(u, 'http://x').searchParams.get('d')!;
        expect(d === `ds/${key}`).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('findUris never throws and every span is a substring at its offsets', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('s3://b/k.png', 'gs://x/y', 'azure-blob://c/d e', '/data/local-files/?d=a%2Fb', ' ', '"', "'", '<img src=', '>')), { maxLength: 12 }).map((p) => p.join('')),
        (text) => {
          for (const span of findUris(text) as unknown as { start: number; end: number; uri?: string; text?: string }[]) {
            expect(span.start).toBeGreaterThanOrEqual(0);
            expect(span.end).toBeLessThanOrEqual(text.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fuzz: config validation and the endpoint guard', () => {
  const value = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
  const fields = ['bucket', 'prefix', 'regex_filter', 's3_endpoint', 'gcs_endpoint', 'azure_endpoint', 'host', 'port', 'db', 'path', 'presign_ttl', 'aws_access_key_id', 'aws_secret_access_key', 'google_application_credentials', 'container', 'account_name', 'account_key', 'role_arn', 'tenant_id', 'client_id', 'client_secret'];

  it('parseConfigErrors never throws and answers per-field messages for any config shape', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STORAGE_TYPES, 'ftp' as never), fc.dictionary(fc.constantFrom(...fields), value), (type, extra) => {
        const errors = parseConfigErrors({ type, role: 'import', ...extra } as StorageConfig);
        for (const [k, v] of Object.entries(errors)) {
          expect(typeof k).toBe('string');
          expect(Array.isArray(v) && v.every((m) => typeof m === 'string')).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the guard answers only typed errors and never accepts an address isForbiddenAddress refuses', async () => {
    const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    const host = fc.oneof(ipv4, ipv4.map((ip) => `[::ffff:${ip}]`), fc.nat().map(String), fc.string({ maxLength: 30 }), fc.ipV6().map((ip) => `[${ip}]`));
    await fc.assert(
      fc.asyncProperty(host, fc.option(fc.nat(65535)), async (h, port) => {
        const endpoint = `http://${h}${port === null ? '' : `:${port}`}`;
        let parsed: string | undefined;
        try {
          parsed = endpointHost(endpoint, 's3_endpoint');
        } catch (e) {
          expect(e).toBeInstanceOf(StorageError);
          return;
        }
        // No DNS: names resolve to a public documentation address in this property.
        const r = await checkEndpoint(endpoint, 's3_endpoint', { allowedEndpoints: [], resolve: async () => [{ address: '203.0.113.7', family: 4 }] }).catch((e: unknown) => e as Error);
        if (r instanceof Error) expect(r).toBeInstanceOf(StorageError);
        else for (const a of (r as CheckedEndpoint).addresses) expect(isForbiddenAddress(a.address), `${endpoint} → ${parsed}`).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('fuzz: HTTP pass over every route', () => {
  let token: string;
  /** Ids that exist (project, task, annotation), so random requests also reach deep code paths. */
  const real: string[] = [];
  beforeAll(async () => {
    useTestEnvironment();
    patchApp({ onExportStorageCreated: async () => undefined });
    token = (await newTenant('fuzz')).token;
    const call = async (m: string, url: string, b?: unknown) => {
      const r = await HANDLERS[functionForPath(url.split('?')[0])]!(v2Event(m, url, { body: b === undefined ? undefined : JSON.stringify(b), headers: { authorization: `Token ${token}` } }), {} as Context);
      return JSON.parse(r.body ?? 'null');
    };
    const project = await call('POST', '/api/projects', { title: 'fuzz' });
    await call('POST', `/api/projects/${project.id}/import`, [{ image: 's3://b/k.png', text: 'x' }]);
    const tasks = await call('GET', `/api/tasks?project=${project.id}`);
    if (!tasks?.tasks?.length) throw new Error(`task list: ${JSON.stringify(tasks)} project ${JSON.stringify(project)}`);
    const taskId = tasks.tasks[0].id;
    const ann = await call('POST', `/api/tasks/${taskId}/annotations`, { result: [] });
    real.push(String(project.id), String(taskId), String(ann.id));
  });

  const patterns = [...new Set([...metaRouter.list(), ...projectsRouter.list(), ...storagesRouter.list(), ...webhooksRouter.list()].map((r) => r.pattern))];
  const extra = ['/tasks/{id}/resolve', '/tasks/{id}/presign', '/projects/{id}/resolve', '/projects/{id}/presign', '/data/local-files', ...ROUTES.map((r) => r.path), '/', '/nope', '/api'];
  const segment = fc.oneof(
    fc.constant(0).map(() => real[0]),
    fc.constant(1).map(() => real[1]),
    fc.constant(2).map(() => real[2]),
    fc.nat(10_000).map(String),
    fc.constantFrom('s3', 'gcs', 'localfiles', 'redis', 'azure', 'export', '-1', '0', '99999999999999999999', '1e3', '%00', '%2e%2e', '..', '%', '%zz', ' ', 'null', '{id}'),
    fc.string({ maxLength: 8 }).map(encodeURIComponent),
  );
  const wild = fc.tuple(fc.constantFrom(...patterns, ...extra), segment, segment, fc.constantFrom('', '/', '//', '/x', '/validate', '/sync', '/files', '/import')).map(([p, a, b, tail]) => p.replace('{type}', a).replace('{id}', b) + tail);
  // Well-formed paths with existing ids and real types reach the use cases behind the router.
  const wellFormed = fc
    .tuple(fc.constantFrom(...patterns, ...extra), fc.constantFrom('s3', 'gcs', 'azure', 'azure_spi', 'redis', 'localfiles', 's3s'), fc.nat(2), fc.constantFrom('', '/'))
    .map(([p, t, i, tail]) => p.replace('{type}', t).replace('{id}', real[i]) + tail);
  const path = fc.oneof({ weight: 3, arbitrary: wellFormed }, { weight: 2, arbitrary: wild });
  const query = fc.oneof(
    fc.constant(''),
    fc.dictionary(fc.constantFrom('project', 'page', 'page_size', 'cursor', 'fileuri', 'token', 'd', 'fields'), fc.oneof(fc.string({ maxLength: 20 }), fc.nat().map(String))).map((q) => new URLSearchParams(q).toString()),
    fc.string({ maxLength: 30 }),
  );
  const body = fc.oneof(
    fc.constant(undefined),
    fc.json({ maxDepth: 4 }),
    fc.string({ maxLength: 200 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ project: 1, bucket: 'b', path: '/x', result: v, data: v, title: v })),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  );
  const headers = fc.record(
    {
      authorization: fc.oneof({ weight: 6, arbitrary: fc.constant('VALID') }, { weight: 1, arbitrary: fc.constantFrom('Token ', 'Token x', 'Bearer y', '', 'Token ' + 'a'.repeat(5000)) }),
      'content-type': fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', ''),
      range: fc.constantFrom('bytes=0-', 'bytes=-5', 'bytes=9-1', 'bytes=abc', 'bytes=0-99999999999999999999'),
      'if-none-match': fc.constantFrom('*', 'W/"x"', '"'),
      cookie: fc.string({ maxLength: 20 }),
    },
    { requiredKeys: ['authorization'] },
  );
  const method = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('GET', 'POST', 'PATCH') }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'get', 'FOO') });

  it(`random method × path (${patterns.length + extra.length} route patterns) × query × headers × body: never a 5xx`, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, body, async (m, p, q, h, b) => {
        const hdrs: Record<string, string> = {};
        for (const [k, v] of Object.entries(h)) hdrs[k] = k === 'authorization' && v === 'VALID' ? `Token ${token}` : (v as string);
        const event = v2Event(m.toUpperCase(), q ? `${p}?${q}` : p, { body: b as string | Buffer | undefined, headers: hdrs });
        event.requestContext.http.method = m;
        const fn = functionForPath(p);
        const handler = HANDLERS[fn]!;
        const res = await handler(event, {} as Context);
        const status = res.statusCode ?? 200;
        seen.set(status, (seen.get(status) ?? 0) + 1);
        expect(status, `${m} ${p}?${q} ${JSON.stringify(h)} → ${String(res.body).slice(0, 200)}`).toBeLessThan(500);
      }),
      { numRuns: 400 },
    );
    if (process.env.FUZZ_DEBUG) console.error([...seen.entries()]);
    // The pass reached real handlers, not only the router's 404.
    expect([...seen.keys()].some((s) => s === 200 || s === 201 || s === 204)).toBe(true);
    expect([...seen.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(3);
  });
});
