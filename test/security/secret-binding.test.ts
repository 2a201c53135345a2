/**
 * Stored secrets are bound to their connection: a body that points a stored storage somewhere
 * else (endpoint, host, port, bucket, account, role) without re-sending its secrets is refused
 * with a 400 naming each stored secret, before any connection. A loopback listener stands in for
 * the attacker's server and records every byte it gets; the allowlist lets it through the SSRF
 * guard, so only the binding keeps the secrets from it.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { startRedis, type RunningRedis } from '../../local/emulators/redis';
import type { StorageConfig } from '../../shared/storage/types';
import { createS3Buckets } from '../contract/helpers';
import { client, newTenant, useTestEnvironment, type ApiHandler } from '../integration/api-harness';
import { newProject, newStorage, seed } from '../integration/sync-helpers';

const em = inject('emulators');
const REDIS_PW = 'binding-redis-password-41c9';
const S3_KEYS = { aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey, aws_session_token: 'binding-session-token-7e02' };
const S3_SECRETS = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'];

/** A TCP listener on 127.0.0.1 that keeps whatever it is sent and hangs up. */
async function recorder(): Promise<{ port: number; url: string; received: () => string; reset: () => void; close: () => Promise<void> }> {
  let chunks: Buffer[] = [];
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.on('data', (d) => {
      chunks.push(d);
      s.destroy();
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received: () => `${connections} connection(s): ${Buffer.concat(chunks).toString('latin1')}`,
    reset: () => {
      chunks = [];
      connections = 0;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Sets a password on a dedicated Redis (the shared emulator has none). */
async function requirePassword(port: number, password: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(`CONFIG SET requirepass ${password}\r\n`));
    s.once('data', (d) => {
      s.destroy();
      if (d.toString().startsWith('+OK')) resolve();
      else reject(new Error(d.toString()));
    });
    s.once('error', reject);
  });
}

let api: ReturnType<typeof client>;
let orgId: string;
let projectId: number;
let trap: Awaited<ReturnType<typeof recorder>>;
let redis: RunningRedis;

beforeAll(async () => {
  process.env.LABELSYNC_ALLOWED_ENDPOINTS = '127.0.0.1,localhost';
  useTestEnvironment();
  const t = await newTenant('binding');
  orgId = t.orgId;
  api = client(storagesHandler as unknown as ApiHandler, t.token);
  projectId = await newProject(orgId, ['image']);
  trap = await recorder();
  redis = await startRedis();
  await requirePassword(redis.port, REDIS_PW);
  await createS3Buckets(em.s3.endpoint, em.s3, em.s3.region, ['binding-bucket', 'binding-other']);
  await seed(s3Config(), { 'some/a.json': '{}' });
}, 60_000);

afterAll(async () => {
  await trap?.close();
  await redis?.stop();
});

const redisConfig = (): StorageConfig => ({ type: 'redis', role: 'import', host: '127.0.0.1', port: String(redis.port), db: 1, password: REDIS_PW });
const s3Config = (): StorageConfig => ({ type: 's3', role: 'import', bucket: 'binding-bucket', s3_endpoint: em.s3.endpoint, region_name: em.s3.region, ...S3_KEYS });

/** The field names of a 400's validation errors. */
const errorFields = (res: { status: number; json: { validation_errors?: Record<string, unknown> } }) => Object.keys(res.json?.validation_errors ?? {}).sort();

describe('secrets are bound to the connection they were saved for', () => {
  it('redis: validate, files, PATCH and PUT by id with the port of another server → 400 naming password; the server gets nothing', async () => {
    const s = await newStorage(orgId, projectId, redisConfig());
    const base = '/api/storages/redis';
    for (const [method, url, body] of [
      ['POST', `${base}/validate`, { id: s.id, port: String(trap.port) }],
      ['POST', `${base}/files`, { id: s.id, port: trap.port }],
      ['PATCH', `${base}/${s.id}`, { port: String(trap.port) }],
      ['PUT', `${base}/${s.id}`, { project: projectId, host: '127.0.0.1', port: String(trap.port) }],
      ['PATCH', `${base}/${s.id}`, { host: 'localhost', port: String(trap.port), db: 0 }],
    ] as const) {
      const res = await api(method, url, body);
      expect(res.status, `${method} ${url}: ${res.text}`).toBe(400);
      expect(errorFields(res), res.text).toEqual(['password']);
      expect(res.text).not.toContain(REDIS_PW);
    }
    expect(trap.received()).toBe('0 connection(s): ');
    expect((await api('GET', `${base}/${s.id}`)).json).toMatchObject({ host: '127.0.0.1', port: String(redis.port) });
  });

  it('redis: a changed host with the password re-sent is saved; same values and non-connection fields keep the stored password', async () => {
    const s = await newStorage(orgId, projectId, redisConfig());
    const base = `/api/storages/redis/${s.id}`;
    // The stored password is used, so these connect to the password-protected Redis for real.
    const same = await api('PATCH', base, { host: '127.0.0.1', port: redis.port, db: 1, title: 'same', path: 'p', regex_filter: '.*' });
    expect(same.status, same.text).toBe(200);
    expect((await api('POST', '/api/storages/redis/validate', { id: s.id, title: 'x' })).status).toBe(200);
    const refused = await api('PATCH', base, { host: 'localhost' });
    expect(refused.status, refused.text).toBe(400);
    expect(errorFields(refused)).toEqual(['password']);
    const moved = await api('PATCH', base, { host: 'localhost', password: REDIS_PW });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.json).toMatchObject({ host: 'localhost', title: 'same', has_password: true });
    // Clearing the secret is re-sending it too: nothing stored goes to the new place.
    const cleared = await api('POST', '/api/storages/redis/validate', { id: s.id, port: String(trap.port), password: '' });
    expect(cleared.status).toBe(400);
    expect(errorFields(cleared)).not.toContain('password');
    expect(trap.received()).toContain('select');
    expect(trap.received()).not.toContain(REDIS_PW);
    trap.reset();
  });

  it('s3: validate by id with another s3_endpoint → 400 naming the key id, secret and session token; the server gets nothing', async () => {
    const s = await newStorage(orgId, projectId, s3Config());
    for (const [method, url, body] of [
      ['POST', '/api/storages/s3/validate', { id: s.id, s3_endpoint: trap.url }],
      ['POST', '/api/storages/s3/files', { id: s.id, s3_endpoint: trap.url }],
      ['PATCH', `/api/storages/s3/${s.id}`, { s3_endpoint: trap.url }],
      ['PATCH', `/api/storages/s3/${s.id}`, { bucket: 'binding-other' }],
      ['PATCH', `/api/storages/s3/${s.id}`, { region_name: 'eu-west-1' }],
      ['PATCH', `/api/storages/s3/${s.id}`, { s3_endpoint: trap.url, aws_secret_access_key: 'new-secret' }],
    ] as const) {
      const res = await api(method, url, body);
      expect(res.status, `${method} ${url} ${JSON.stringify(body)}: ${res.text}`).toBe(400);
      const named = S3_SECRETS.filter((f) => !(f in body));
      expect(errorFields(res), res.text).toEqual(named.sort());
    }
    expect(trap.received()).toBe('0 connection(s): ');
    // prefix and regex_filter select keys; they do not move the connection.
    const kept = await api('PATCH', `/api/storages/s3/${s.id}`, { prefix: 'some/', regex_filter: '.*json', title: 't' });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json).toMatchObject({ prefix: 'some/', has_aws_access_key_id: true, has_aws_secret_access_key: true, has_aws_session_token: true });
    const moved = await api('PATCH', `/api/storages/s3/${s.id}`, { bucket: 'binding-other', prefix: '', ...S3_KEYS });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.json.bucket).toBe('binding-other');
  });

  it('every other type with stored secrets: a changed connection field in validate by id → 400 naming each stored secret, no connection', async () => {
    const gcsJson = JSON.stringify({ type: 'service_account', project_id: 'p', private_key: 'k', client_email: 'x@p.iam.gserviceaccount.com' });
    const key = Buffer.from('binding-account-key-0123456789abcdef').toString('base64');
    const cases: [StorageConfig, Record<string, unknown>, string[]][] = [
      [{ type: 'gcs', role: 'import', bucket: 'b', gcs_endpoint: em.gcs.apiEndpoint, google_application_credentials: gcsJson }, { gcs_endpoint: trap.url }, ['google_application_credentials']],
      [{ type: 'gcs', role: 'import', bucket: 'b', google_application_credentials: gcsJson }, { google_project_id: 'other' }, ['google_application_credentials']],
      [{ type: 'azure', role: 'import', container: 'c', account_name: 'acct', account_key: key, azure_endpoint: em.azure.blobEndpoint }, { azure_endpoint: trap.url }, ['account_key', 'account_name']],
      [{ type: 'azure', role: 'import', container: 'c', account_name: 'acct', account_key: key }, { account_name: 'other' }, ['account_key']],
      [{ type: 'azure_spi', role: 'import', container: 'c', account_name: 'acct', tenant_id: 't', client_id: 'c', client_secret: 's' }, { tenant_id: 'other' }, ['client_secret']],
      [{ type: 's3s', role: 'export', bucket: 'binding-bucket', role_arn: 'arn:aws:iam::123456789012:role/a', ...S3_KEYS }, { role_arn: 'arn:aws:iam::123456789012:role/b' }, S3_SECRETS],
    ];
    for (const [config, change, named] of cases) {
      const s = await newStorage(orgId, projectId, config);
      const url = `/api/storages/${config.role === 'export' ? 'export/' : ''}${config.type}/validate`;
      const res = await api('POST', url, { id: s.id, ...change });
      expect(res.status, `${config.type} ${JSON.stringify(change)}: ${res.text}`).toBe(400);
      expect(errorFields(res), res.text).toEqual([...named].sort());
    }
    expect(trap.received()).toBe('0 connection(s): ');
  });
});
