/**
 * SSRF (CVE-2022-36551, CVE-2023-47116, CVE-2025-25297 class). Every user-supplied endpoint
 * (s3_endpoint, gcs_endpoint, azure_endpoint, Redis host/port) in every spelling of a loopback,
 * private, link-local, unique-local or metadata address is refused with a 400 naming the field
 * before any connection: listeners on the loopback addresses must receive nothing, and refusals of
 * unroutable addresses come back faster than any connect timeout. Also: redirects are not
 * followed by any storage client (GCS included, through the API, sync and resolve), allowlist
 * entries with a port cover only that port, DNS rebinding cannot move a pinned connection, GCS
 * credential JSON cannot smuggle in URLs, and the LABELSYNC_ALLOWED_ENDPOINTS allowlist is the
 * only way through.
 */
import dns from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storages } from '../../functions/api/storages';
import { handler as projects } from '../../functions/api/projects';
import { handler as resolveHandler } from '../../functions/api/resolve';
import { Storage } from '@google-cloud/storage';
import { checkEndpoint } from '../../shared/storage/endpoint-guard';
import { testRegistry } from '../contract/helpers';
import type { ProviderSettings } from '../../shared/storage/common';
import type { StorageConfig } from '../../shared/storage/types';
import { client, newTenant, useTestEnvironment, v2Event } from '../integration/api-harness';
import { newProject, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from '../integration/sync-helpers';
const { getProvider } = testRegistry();

/** A TCP listener on 127.0.0.1 and ::1 (same port) that counts every connection it gets. */
async function trap(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const servers: net.Server[] = [];
  const mk = () => net.createServer((s) => { hits++; s.destroy(); });
  const v4 = mk();
  await new Promise<void>((r) => v4.listen(0, '127.0.0.1', r));
  servers.push(v4);
  const port = (v4.address() as net.AddressInfo).port;
  const v6 = mk();
  await new Promise<void>((r) => { v6.once('error', () => r()); v6.listen(port, '::1', r); });
  if (v6.listening) servers.push(v6);
  return { port, hits: () => hits, close: async () => { for (const s of servers) await new Promise((r) => s.close(r)); } };
}

let tp: Awaited<ReturnType<typeof trap>>;
let api: ReturnType<typeof client>;
let projectId: number;

beforeAll(async () => {
  // No allowlist in this file: the guard must stand on its own.
  process.env.LABELSYNC_ALLOWED_ENDPOINTS = '';
  useTestEnvironment();
  const t = await newTenant('ssrf');
  api = client(storages, t.token);
  projectId = (await client(projects, t.token)('POST', '/api/projects', { title: 'ssrf' })).json.id;
  tp = await trap();
});

afterAll(async () => {
  await tp.close();
});

/** Every spelling of a forbidden address; `P` is replaced by the trap's port. */
const FORMS = [
  'http://127.0.0.1:P',
  'http://localhost:P',
  'http://LocalHost:P',
  'http://2130706433:P', // decimal
  'http://0177.0.0.1:P', // octal
  'http://0x7f.0.0.1:P', // hex
  'http://0x7f000001:P',
  'http://127.1:P', // short form
  'http://0:P', // 0.0.0.0 reaches localhost on Linux
  'http://0.0.0.0:P',
  'http://[::1]:P',
  'http://[0:0:0:0:0:0:0:1]:P',
  'http://[::ffff:127.0.0.1]:P', // IPv4-mapped IPv6
  'http://[::ffff:7f00:1]:P',
  'http://[::127.0.0.1]:P', // IPv4-compatible
  'http://[64:ff9b::7f00:1]:P', // NAT64
  'http://[::]:P',
  'http://169.254.169.254', // AWS/GCP/Azure metadata
  'http://169.254.169.254.:80',
  'http://[fd00:ec2::254]', // EC2 metadata over IPv6
  'http://[::ffff:169.254.169.254]',
  'http://10.0.0.1:9000',
  'http://172.16.5.4',
  'http://192.168.1.1',
  'http://100.64.0.1',
  'http://[fe80::1]',
  'http://[fc00::1]',
  'http://user:pw@127.0.0.1:P',
];

const withPort = (f: string) => f.replace(/:P\b/, `:${tp.port}`);

type Target = { type: string; field: string; body: (endpoint: string) => Record<string, unknown> };
const TARGETS: Target[] = [
  { type: 's3', field: 's3_endpoint', body: (e) => ({ bucket: 'ssrf-bucket', s3_endpoint: e, aws_access_key_id: 'AKIASSRF', aws_secret_access_key: 'ssrf-secret' }) },
  { type: 'gcs', field: 'gcs_endpoint', body: (e) => ({ bucket: 'ssrf-bucket', gcs_endpoint: e }) },
  { type: 'azure', field: 'azure_endpoint', body: (e) => ({ container: 'c', account_name: 'acct', account_key: Buffer.from('k'.repeat(32)).toString('base64'), azure_endpoint: e }) },
  {
    type: 'redis',
    field: 'host',
    body: (e) => {
      const u = new URL(e);
      return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || '6379', password: 'ssrf-redis-pw' };
    },
  },
];

describe('SSRF: endpoints on private addresses are refused through the API, before any connection', () => {
  for (const target of TARGETS) {
    it(`${target.type}: every address form on create, validate (import and export) → 400 naming ${target.field}, trap untouched`, async () => {
      let attempts = 0;
      for (const form of FORMS) {
        const endpoint = withPort(form);
        for (const [method, url] of [
          ['POST', `/api/storages/${target.type}`],
          ['POST', `/api/storages/${target.type}/validate`],
          ['POST', `/api/storages/export/${target.type}`],
          ['POST', `/api/storages/export/${target.type}/validate`],
        ] as const) {
          const started = Date.now();
          const res = await api(method, url, { project: projectId, ...target.body(endpoint) });
          attempts++;
          expect(res.status, `${url} ${endpoint}: ${res.text}`).toBe(400);
          const messages = JSON.stringify(res.json.validation_errors);
          expect(messages, endpoint).toContain(target.field);
          expect(messages, endpoint).toMatch(/private, loopback or link-local|not a valid host|is not a Google API host/);
          // Unroutable addresses (10/8, metadata) would hang until the 10 s connect timeout.
          expect(Date.now() - started, endpoint).toBeLessThan(6000);
        }
      }
      expect(attempts).toBe(FORMS.length * 4);
      expect(tp.hits()).toBe(0);
    });
  }

  it('PATCH of an existing storage to a private endpoint is refused and the stored endpoint is unchanged', async () => {
    process.env.LABELSYNC_ALLOWED_ENDPOINTS = '127.0.0.1';
    // A Redis storage created while its (emulator) host was allowed, then patched without it.
    expect(useTestEnvironment().env.allowedEndpoints).toEqual(['127.0.0.1']);
    const em = inject('emulators');
    const created = await api('POST', '/api/storages/redis', { project: projectId, host: '127.0.0.1', port: String(em.redis.port) });
    expect(created.status, created.text).toBe(201);
    process.env.LABELSYNC_ALLOWED_ENDPOINTS = '';
    useTestEnvironment();
    const before = tp.hits();
    const patched = await api('PATCH', `/api/storages/redis/${created.json.id}`, { host: 'localhost', port: String(tp.port) });
    expect(patched.status).toBe(400);
    expect(JSON.stringify(patched.json.validation_errors)).toContain('host');
    expect((await api('GET', `/api/storages/redis/${created.json.id}`)).json.host).toBe('127.0.0.1');
    expect(tp.hits()).toBe(before);
  });

  it('azure account_name cannot redirect the default endpoint (<account>.blob.core.windows.net) → 400 naming account_name, trap untouched', async () => {
    for (const account of [`127.0.0.1:${tp.port}/x?`, `x@127.0.0.1:${tp.port}#`, `localhost:${tp.port}`, '169.254.169.254#', 'ACCT', 'a', 'acct.evil']) {
      for (const type of ['azure', 'azure_spi']) {
        const res = await api('POST', `/api/storages/${type}/validate`, {
          project: projectId,
          container: 'c',
          account_name: account,
          account_key: Buffer.from('k'.repeat(32)).toString('base64'),
          tenant_id: 't',
          client_id: 'c',
          client_secret: 's',
        });
        expect(res.status, `${type} ${account}: ${res.text}`).toBe(400);
        expect(Object.keys(res.json.validation_errors)).toEqual(['account_name']);
      }
    }
    expect(tp.hits()).toBe(0);
  });

  it('s3 region_name cannot redirect the default endpoint (s3.<region>.amazonaws.com): refused, trap untouched', async () => {
    for (const region of [`x@127.0.0.1:${tp.port}#`, `127.0.0.1:${tp.port}/`, `us-east-1.localhost:${tp.port}#`]) {
      const res = await api('POST', '/api/storages/s3/validate', { project: projectId, bucket: 'ssrf-bucket', region_name: region, aws_access_key_id: 'AKIASSRF', aws_secret_access_key: 'ssrf-secret' });
      expect(res.status, `${region}: ${res.text}`).toBe(400);
    }
    expect(tp.hits()).toBe(0);
  });

  it('GCS credential JSON cannot carry URLs: external_account / impersonated types → 400 naming google_application_credentials, nothing fetched', async () => {
    const url = `http://127.0.0.1:${tp.port}/latest/meta-data/iam/security-credentials/`;
    for (const creds of [
      { type: 'external_account', audience: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_url: url, credential_source: { url } },
      { type: 'impersonated_service_account', service_account_impersonation_url: url, source_credentials: { type: 'authorized_user' } },
      { type: 'external_account_authorized_user', token_url: url, refresh_token: 'r' },
      { no_type: true },
    ]) {
      const res = await api('POST', '/api/storages/gcs/validate', { project: projectId, bucket: 'b', google_application_credentials: JSON.stringify(creds) });
      expect(res.status).toBe(400);
      expect(Object.keys(res.json.validation_errors)).toEqual(['google_application_credentials']);
    }
    expect(tp.hits()).toBe(0);
  });
});

/** Settings for providers built directly through the registry in this file. */
const settings = (allowed: string[]): Partial<ProviderSettings> => ({
  allowedEndpoints: allowed,
  maxReadBytes: 1 << 20,
  localFilesDocumentRoot: '/',
  connectTimeoutMs: 800,
  requestTimeoutMs: 1500,
});

describe('SSRF: redirects', () => {
  it('the S3, Azure and GCS clients do not follow a 301/302/303/307/308 from an allowed endpoint to another host', async () => {
    const inner = await trap();
    const hops: string[] = [];
    const front = http.createServer((req, res) => {
      hops.push(`${req.method} ${req.url}`);
      const status = [301, 302, 303, 307, 308][hops.length % 5];
      res.writeHead(status, { location: `http://127.0.0.1:${inner.port}/latest/meta-data${req.url}` });
      res.end();
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const base = `http://localhost:${(front.address() as net.AddressInfo).port}`;
    try {
      const configs: StorageConfig[] = [
        { type: 'gcs', role: 'import', bucket: 'bkt', gcs_endpoint: base },
        { type: 's3', role: 'import', bucket: 'bkt', s3_endpoint: base, aws_access_key_id: 'AKIAX', aws_secret_access_key: 'sk' },
        { type: 'azure', role: 'import', container: 'c', account_name: 'acct', account_key: Buffer.from('k'.repeat(32)).toString('base64'), azure_endpoint: `${base}/acct` },
      ];
      for (const config of configs) {
        // Only `localhost` is allowed: the redirect target 127.0.0.1 is not.
        const p = await getProvider(config, { noCache: true, settings: settings(['localhost']) });
        try {
          await expect(p.validate('import'), config.type).rejects.toThrow();
          await expect(p.read('x.json').then((r) => r.body.resume()), config.type).rejects.toThrow();
          await expect(p.head('x.json'), config.type).rejects.toThrow();
        } finally {
          await p.close();
        }
      }
      expect(hops.length).toBeGreaterThan(0);
      expect(inner.hits()).toBe(0);
    } finally {
      await new Promise((r) => front.close(r));
      await inner.close();
    }
  });

  it('a custom gcs_endpoint that is neither a Google API host nor allow-listed is refused before any request', async () => {
    const inner = await trap();
    const front = http.createServer((req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${inner.port}${req.url}` });
      res.end();
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const port = (front.address() as net.AddressInfo).port;
    try {
      for (const endpoint of [`http://93.184.215.14:${port}`, `http://localhost:${port}`]) {
        await expect(getProvider({ type: 'gcs', role: 'import', bucket: 'bkt', gcs_endpoint: endpoint }, { noCache: true, settings: settings([]) }).then((p) => p.validate('import'))).rejects.toMatchObject({
          code: 'forbidden_endpoint',
          message: expect.stringContaining('gcs_endpoint'),
        });
      }
      expect(inner.hits()).toBe(0);
      // Google's own hosts are not refused by this rule (offline here, so they do not resolve).
      const google = await getProvider({ type: 'gcs', role: 'import', bucket: 'bkt', gcs_endpoint: 'https://storage.googleapis.com' }, { noCache: true, settings: settings([]) }).catch((e: { code?: string }) => e);
      expect((google as { code?: string }).code).not.toBe('forbidden_endpoint');
    } finally {
      await new Promise((r) => front.close(r));
      await inner.close();
    }
  });
});

describe('SSRF: DNS rebinding', () => {
  /** Installs a resolver for `rebind.test` answering a public address first and loopback after. */
  function rebindingResolver(): { calls: () => number; restore: () => void } {
    let calls = 0;
    const answer = () => (calls++ === 0 ? { address: '203.0.113.10', family: 4 } : { address: '127.0.0.1', family: 4 });
    const origLookup = dns.lookup;
    const origPromise = dns.promises.lookup;
    const fake = ((host: string, opts: unknown, cb?: unknown) => {
      const callback = (typeof opts === 'function' ? opts : cb) as (e: Error | null, a: unknown, f?: number) => void;
      if (host !== 'rebind.test') return (origLookup as unknown as (...a: unknown[]) => void)(host, opts, cb);
      const a = answer();
      const all = typeof opts === 'object' && opts !== null && (opts as { all?: boolean }).all;
      process.nextTick(() => (all ? callback(null, [a]) : callback(null, a.address, a.family)));
    }) as typeof dns.lookup;
    dns.lookup = fake;
    dns.promises.lookup = (async (host: string, opts?: { all?: boolean }) => {
      if (host !== 'rebind.test') return origPromise(host, opts as never);
      const a = answer();
      return opts?.all ? [a] : a;
    }) as typeof dns.promises.lookup;
    syncBuiltinESMExports();
    return {
      calls: () => calls,
      restore: () => {
        dns.lookup = origLookup;
        dns.promises.lookup = origPromise;
        syncBuiltinESMExports();
      },
    };
  }

  it('control: an unpinned client following the second answer does reach the loopback trap', async () => {
    const r = rebindingResolver();
    const before = tp.hits();
    try {
      await checkEndpoint(`http://rebind.test:${tp.port}`, 's3_endpoint', { allowedEndpoints: [] });
      await new Promise<void>((resolve) => {
        const req = http.get({ host: 'rebind.test', port: tp.port, path: '/' }, () => resolve());
        req.on('error', () => resolve());
      });
    } finally {
      r.restore();
    }
    expect(r.calls()).toBe(2);
    expect(tp.hits()).toBe(before + 1);
  });

  for (const config of [
    { type: 's3', role: 'import', bucket: 'bkt', s3_endpoint: 'http://rebind.test:P', aws_access_key_id: 'AKIAX', aws_secret_access_key: 'sk' },
    { type: 'azure', role: 'import', container: 'c', account_name: 'acct', account_key: Buffer.from('k'.repeat(32)).toString('base64'), azure_endpoint: 'http://rebind.test:P/acct' },
    { type: 'redis', role: 'import', host: 'rebind.test', port: 'P' },
  ] as StorageConfig[]) {
    it(`${config.type}: the connection stays pinned to the checked (public) address when DNS later answers loopback`, async () => {
      const r = rebindingResolver();
      const before = tp.hits();
      const c = JSON.parse(JSON.stringify(config).replace(/"P"|:P/g, (m) => (m === '"P"' ? `"${tp.port}"` : `:${tp.port}`))) as StorageConfig;
      try {
        const p = await getProvider(c, { noCache: true, settings: settings([]) });
        try {
          await expect(p.validate('import')).rejects.toThrow();
          await expect(p.read('k').then((x) => x.body.resume())).rejects.toThrow();
        } finally {
          await p.close();
        }
      } finally {
        r.restore();
      }
      // The guard looked the name up; any later lookup answered loopback and must not be used.
      expect(r.calls()).toBeGreaterThanOrEqual(1);
      expect(tp.hits()).toBe(before);
    });
  }
});

describe('SSRF: the allowlist is the only way through', () => {
  it('LABELSYNC_ALLOWED_ENDPOINTS (host or CIDR) lets an emulator-style endpoint connect; the same endpoint is refused without it', async () => {
    const before = tp.hits();
    const config: StorageConfig = { type: 's3', role: 'import', bucket: 'bkt', s3_endpoint: `http://127.0.0.1:${tp.port}`, aws_access_key_id: 'AKIAX', aws_secret_access_key: 'sk' };
    await expect(getProvider(config, { noCache: true, settings: settings([]) })).rejects.toMatchObject({ code: 'forbidden_endpoint' });
    expect(tp.hits()).toBe(before);
    for (const allowed of [['127.0.0.1'], ['127.0.0.0/8']]) {
      const p = await getProvider(config, { noCache: true, settings: settings(allowed) });
      await expect(p.validate('import')).rejects.toThrow();
      await p.close();
    }
    expect(tp.hits()).toBeGreaterThan(before);
  });
});

/** An HTTP server on `host` counting requests, answering with `handle`. */
async function httpService(host: string, handle: http.RequestListener): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    hits: () => hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

// Last in the file: the sync harness installs its own app (and uninstalls it in afterAll).
describe('SSRF: allowlist entries by host:port, and a GCS endpoint that redirects (through the API, sync and resolve)', () => {
  const BUCKET = `ssrf-gcs-${Math.random().toString(36).slice(2, 8)}`;
  const MARKER = 'INTERNAL-SERVICE-SECRET';
  const MEDIA = Buffer.from('0123456789abcdefghij');
  let h: SyncHarness;
  let storagesApi: ReturnType<typeof client>;
  let tasksApi: ReturnType<typeof client>;
  // Both on 127.0.0.2 (Linux loopback): only the front's port is allow-listed.
  let refused: Awaited<ReturnType<typeof httpService>>;
  let front: Awaited<ReturnType<typeof httpService>>;
  /** `validate-only`: proxies the two calls of validate (bucket get, one-object list), redirects the rest. */
  let mode: 'proxy' | 'redirect' | 'validate-only' | 'foreign' = 'proxy';
  let gcsEndpoint: string;
  let gcsCredentials: string;

  beforeAll(async () => {
    const em = inject('emulators');
    gcsEndpoint = em.gcs.apiEndpoint;
    gcsCredentials = JSON.stringify(em.gcsCredentials);
    const upstream = new URL(gcsEndpoint);
    // An internal service that would answer GCS-shaped JSON to anything that reached it.
    refused = await httpService('127.0.0.2', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'storage#bucket', name: BUCKET, note: MARKER }));
    });
    front = await httpService('127.0.0.2', (req, res) => {
      const isValidateCall = /^\/storage\/v1\/b\/[^/]+(\?|$)/.test(req.url ?? '') || /maxResults=1(&|$)/.test(req.url ?? '');
      if (mode === 'redirect' || (mode === 'validate-only' && !isValidateCall)) {
        res.writeHead(307, { location: `http://127.0.0.2:${refused.port}${req.url}` });
        return void res.end();
      }
      if (mode === 'foreign') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ status: 'ok', name: BUCKET, items: [] }));
      }
      const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    process.env.LABELSYNC_ALLOWED_ENDPOINTS = `127.0.0.2:${front.port},127.0.0.1:${upstream.port}`;
    h = await startSyncHarness();
    storagesApi = client(storages, h.token);
    tasksApi = client(projects, h.token);
    const admin = new Storage({ apiEndpoint: gcsEndpoint, projectId: em.gcs.projectId, credentials: em.gcsCredentials });
    if (!(await admin.bucket(BUCKET).exists())[0]) await admin.createBucket(BUCKET);
    await admin.bucket(BUCKET).file('tasks/1.json').save(JSON.stringify({ image: `gs://${BUCKET}/media/a.bin` }), { resumable: false });
    await admin.bucket(BUCKET).file('media/a.bin').save(MEDIA, { resumable: false });
  }, 60_000);

  afterAll(async () => {
    await stopSyncHarness(h);
    await front?.close();
    await refused?.close();
    process.env.LABELSYNC_ALLOWED_ENDPOINTS = '';
  });

  // Keyed: a keyless storage would be refused before any connection (no ambient grant here).
  const body = (projectId: number, endpoint: string) => ({ project: projectId, bucket: BUCKET, prefix: 'tasks', gcs_endpoint: endpoint, presign: false, google_application_credentials: gcsCredentials });

  it('a host:port entry allows that port only: 127.0.0.2:<allowed> is reached, 127.0.0.2:<other> is refused before any connection', async () => {
    mode = 'foreign';
    const projectId = await newProject(h.orgId);
    const s3 = (port: number) => ({ project: projectId, bucket: 'ssrf-bucket', s3_endpoint: `http://127.0.0.2:${port}`, aws_access_key_id: 'AKIASSRF', aws_secret_access_key: 'ssrf-secret' });
    const before = front.hits();
    const allowed = await storagesApi('POST', '/api/storages/s3/validate', s3(front.port));
    expect(allowed.text).not.toMatch(/private, loopback or link-local/);
    expect(front.hits()).toBeGreaterThan(before);
    const other = await storagesApi('POST', '/api/storages/s3/validate', s3(refused.port));
    expect(other.status).toBe(400);
    expect(other.text).toContain(`add '127.0.0.2:${refused.port}' to LABELSYNC_ALLOWED_ENDPOINTS`);
    expect(refused.hits()).toBe(0);
  });

  it('a 127.0.0.1:<port> entry matches: the GCS emulator on that port validates', async () => {
    const projectId = await newProject(h.orgId);
    const res = await storagesApi('POST', '/api/storages/gcs/validate', body(projectId, gcsEndpoint));
    expect(res.status, res.text).toBe(200);
  });

  it('an allowed gcs_endpoint answering 307 to a refused service: validate, files preview, sync and a ranged resolve never reach it', async () => {
    mode = 'proxy';
    const projectId = await newProject(h.orgId);
    const endpoint = `http://127.0.0.2:${front.port}`;
    // Control, through the proxying front: every route works and the media comes back.
    const created = await storagesApi('POST', '/api/storages/gcs', body(projectId, endpoint));
    expect(created.status, created.text).toBe(201);
    const id = created.json.id as number;
    expect((await storagesApi('POST', `/api/storages/gcs/${id}/sync`)).status).toBe(200);
    await h.starter.idle();
    expect((await storageOf(id)).status).toBe('completed');
    const [task] = await tasksOf(projectId);
    const url = (await tasksApi('GET', `/api/tasks/${task.id}`)).json.data.image as string;
    const resolve = async () => {
      const r = await resolveHandler(v2Event('GET', url, { headers: { range: 'bytes=2-9' } }));
      return { status: r.statusCode ?? 200, text: r.body === undefined ? '' : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8').toString() };
    };
    expect(await resolve()).toEqual({ status: 206, text: MEDIA.subarray(2, 10).toString() });

    mode = 'redirect';
    const before = front.hits();
    const validate = await storagesApi('POST', '/api/storages/gcs/validate', { id, ...body(projectId, endpoint) });
    expect(front.hits()).toBeGreaterThan(before);
    expect(refused.hits(), 'validate').toBe(0);
    expect(validate.status).toBe(400);
    expect(validate.text).toMatch(/answered a redirect \(307\)/);
    expect((await storagesApi('POST', '/api/storages/gcs/files', body(projectId, endpoint))).status).toBe(400);
    expect(refused.hits(), 'files preview').toBe(0);
    expect((await storagesApi('POST', `/api/storages/gcs/${id}/sync`)).status).toBe(400);
    // Past the sync request's validation, the listing of the sync itself meets the redirect.
    mode = 'validate-only';
    expect((await storagesApi('POST', `/api/storages/gcs/${id}/sync`)).status).toBe(200);
    await h.starter.idle();
    expect((await storageOf(id)).status).toBe('failed');
    expect(refused.hits(), 'sync').toBe(0);
    const ranged = await resolve();
    expect(ranged.status).toBeGreaterThanOrEqual(400);
    expect(ranged.text).not.toContain(MARKER);
    expect(refused.hits(), 'resolve').toBe(0);
  });

  it('an allowed gcs_endpoint answering 200 with JSON that is not the bucket resource → validate 400', async () => {
    mode = 'foreign';
    const projectId = await newProject(h.orgId);
    // No prefix: an import storage without one needs no object, so only the bucket check can refuse.
    const res = await storagesApi('POST', '/api/storages/gcs/validate', { ...body(projectId, `http://127.0.0.2:${front.port}`), prefix: undefined });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/did not answer a GCS bucket resource/);
  });
});
