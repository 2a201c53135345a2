/**
 * Secrets never leave the service: storages of every type carry recognisable secret values; every
 * storage route (import and export, success and error), the task/resolve routes and a sync that
 * fails with a traceback against a stopped S3 emulator are driven. Each test checks the bodies of
 * its own responses; a final sweep checks every response body of the file and every log line
 * (stdout/stderr writes, console, the Powertools logger at DEBUG) for any of them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { handler as projectsHandler } from '../../functions/api/projects';
import { handler as resolveHandler } from '../../functions/api/resolve';
import { processApp } from '../../shared/process-app';
import { startS3, type RunningS3 } from '../../local/emulators/s3';
import { createS3Buckets } from '../contract/helpers';
import { client, responseBodies, type ApiHandler, patchApp } from '../integration/api-harness';
import { addTasks } from '../integration/resolve-helpers';
import { newProject, newStorage, seed, startSyncHarness, stopSyncHarness, storageOf, type SyncHarness } from '../integration/sync-helpers';
import type { StorageConfig } from '../../shared/storage/types';

const em = inject('emulators');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

const S = {
  s3Id: 'AKIALEAKCHECK0000001',
  s3Secret: 'leak-s3-secret-7c1e0f9a',
  s3Token: 'leak-s3-session-token-55aa31',
  azureKey: Buffer.from('leak-azure-account-key-0123456789abcdef').toString('base64'),
  spiSecret: 'leak-azure-client-secret-9d2c',
  redisPw: 'leak-redis-password-2b7f',
  gcsKeyBody: PEM.split('\n')[5], // one line from the middle of the private key
};
const GCS_JSON = JSON.stringify({ type: 'service_account', project_id: 'p', private_key_id: 'leak-gcs-key-id', private_key: PEM, client_email: 'x@p.iam.gserviceaccount.com', client_id: '1' });
const SECRET_VALUES = Object.values(S);

type Client = ReturnType<typeof client>;
let h: SyncHarness;
let storagesApi: Client;
let projectsApi: Client;
let resolveApi: Client;
let projectId: number;
let dedicated: RunningS3;
const captured: string[] = [];
const restore: (() => void)[] = [];

function capture(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const orig = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (orig as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => (stream.write = orig));
  }
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const orig = console[m];
    console[m] = (...args: unknown[]) => {
      captured.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}\n${String((a as { cause?: unknown }).cause)}` : typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      orig(...args);
    };
    restore.push(() => (console[m] = orig));
  }
}

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  capture();
  h = await startSyncHarness({ chunkSize: 20 });
  storagesApi = client(storagesHandler as unknown as ApiHandler, h.token);
  projectsApi = client(projectsHandler as unknown as ApiHandler, h.token);
  resolveApi = client(resolveHandler as unknown as ApiHandler, h.token);
  projectId = await newProject(h.orgId, ['image']);
  dedicated = await startS3();
  await createS3Buckets(dedicated.endpoint, dedicated, dedicated.region, ['leak-bucket']);
}, 120_000);

afterAll(async () => {
  for (const r of restore.reverse()) r();
  await stopSyncHarness(h);
  await dedicated?.stop();
});

/** Bodies of every type with secrets; endpoints are the emulators (credentials mostly wrong on purpose). */
const BODIES: Record<string, Record<string, unknown>> = {
  s3: { bucket: 'leak-bucket', s3_endpoint: em.s3.endpoint, region_name: 'us-east-1', aws_access_key_id: S.s3Id, aws_secret_access_key: S.s3Secret, aws_session_token: S.s3Token },
  s3s: { bucket: 'leak-bucket', s3_endpoint: em.s3.endpoint, role_arn: 'arn:aws:iam::123456789012:role/leak', aws_access_key_id: S.s3Id, aws_secret_access_key: S.s3Secret },
  gcs: { bucket: 'leak-gcs-missing', gcs_endpoint: em.gcs.apiEndpoint, google_application_credentials: GCS_JSON },
  azure: { container: 'leak-container', account_name: em.azure.accountName, account_key: S.azureKey, azure_endpoint: em.azure.blobEndpoint },
  azure_spi: { container: 'leak-container', account_name: em.azure.accountName, tenant_id: 't', client_id: 'c', client_secret: S.spiSecret, azure_endpoint: em.azure.blobEndpoint },
  redis: { host: '127.0.0.1', port: String(em.redis.port), password: S.redisPw },
};

/** The clients of one test, each recording the body of every response into `bodies`. */
function ownClients() {
  const bodies: string[] = [];
  const recorded =
    (call: Client): Client =>
    async (...args) => {
      const r = await call(...args);
      bodies.push(r.text);
      return r;
    };
  return { api: recorded(storagesApi), apiP: recorded(projectsApi), res: recorded(resolveApi), bodies };
}

/** No text carries a secret value, nor the GCS private key or the base64 Azure key re-encoded. */
function expectNoSecrets(texts: string[]): void {
  for (const text of texts) {
    for (const secret of SECRET_VALUES) expect(text.includes(secret), `leak of ${secret.slice(0, 12)}… in: ${text.slice(0, 300)}`).toBe(false);
    expect(text.includes(JSON.stringify(PEM).slice(1, 80))).toBe(false);
    expect(text.includes(encodeURIComponent(S.azureKey))).toBe(false);
  }
}

describe('secrets: no response body and no log line carries a secret value', () => {
  it('create, validate and files preview of every type with secrets (connection failures included) answer without them', async () => {
    const { api, bodies } = ownClients();
    for (const [type, body] of Object.entries(BODIES)) {
      for (const base of [`/api/storages/${type}`, `/api/storages/export/${type}`]) {
        const created = await api('POST', base, { project: projectId, ...body });
        expect([201, 400], `${base}: ${created.text.slice(0, 200)}`).toContain(created.status);
        await api('POST', `${base}/validate`, { project: projectId, ...body });
        if (!base.includes('export')) await api('POST', `${base}/files`, { project: projectId, ...body });
      }
    }
    expect(bodies.length).toBeGreaterThanOrEqual(30);
    expectNoSecrets(bodies);
  });

  it('stored storages of every type: get, list, patch, put, validate and preview by id, sync, delete', async () => {
    const { api, bodies } = ownClients();
    for (const [type, body] of Object.entries(BODIES)) {
      for (const role of ['import', 'export'] as const) {
        const s = await newStorage(h.orgId, projectId, { type, role, ...body } as StorageConfig);
        const base = role === 'import' ? `/api/storages/${type}` : `/api/storages/export/${type}`;
        const got = await api('GET', `${base}/${s.id}`);
        expect(got.status).toBe(200);
        expect(Object.keys(got.json).filter((k) => k.startsWith('has_')).every((k) => got.json[k] === true || got.json[k] === false)).toBe(true);
        await api('GET', `${base}?project=${projectId}`);
        await api('GET', `/api/storages${role === 'export' ? '/export' : ''}?project=${projectId}`);
        await api('PATCH', `${base}/${s.id}`, { title: 'patched' });
        await api('PATCH', `${base}/${s.id}`, { ...body, title: 'patched again' });
        await api('PUT', `${base}/${s.id}`, { project: projectId, ...body });
        await api('POST', `${base}/validate`, { id: s.id });
        if (role === 'import') await api('POST', `${base}/files`, { id: s.id });
        await api('POST', `${base}/${s.id}/sync`);
        await h.starter.idle();
        await api('GET', `${base}/${s.id}`);
        expect((await api('DELETE', `${base}/${s.id}`)).status).toBe(204);
        await api('GET', `${base}/${s.id}`);
      }
    }
    expect(bodies.length).toBeGreaterThan(100);
    expectNoSecrets(bodies);
  });

  it('a sync whose emulator stops after the request ends failed with a traceback that names the problem, not the credentials', async () => {
    const { api, bodies } = ownClients();
    const config: StorageConfig = {
      type: 's3',
      role: 'import',
      bucket: 'leak-bucket',
      s3_endpoint: dedicated.endpoint,
      region_name: 'us-east-1',
      aws_access_key_id: dedicated.accessKeyId,
      aws_secret_access_key: dedicated.secretAccessKey,
      aws_session_token: S.s3Token,
      use_blob_urls: false,
    };
    await seed(config, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`t${i}.json`, JSON.stringify({ image: `i${i}` })])));
    const s = await newStorage(h.orgId, projectId, config);
    // The emulator dies between the request (which checks the connection) and the sync steps:
    // the steps' provider is built only after the real s3rver has been stopped.
    const app = processApp();
    const real = app.getProvider;
    patchApp({
      getProvider: async (c, opts) => {
        if (!opts?.noCache && c.s3_endpoint === dedicated.endpoint) await dedicated.stop();
        return real(c, opts);
      },
    });
    try {
      const r = await api('POST', `/api/storages/s3/${s.id}/sync`);
      expect(r.status, r.text).toBe(200);
      await h.starter.idle();
    } finally {
      patchApp({ getProvider: real });
    }
    const after = await storageOf(s.id);
    expect(after.status).toBe('failed');
    expect(after.traceback).toMatch(/could not connect|unreachable|ECONNREFUSED/i);
    const shown = await api('GET', `/api/storages/s3/${s.id}`);
    expect(shown.json.traceback).toBe(after.traceback);
    // With the emulator gone the next request fails its connection check: 400, still secret-free.
    expect((await api('POST', `/api/storages/s3/${s.id}/sync`)).status).toBe(400);
    expect(bodies).toHaveLength(3);
    expectNoSecrets([...bodies, after.traceback ?? '']);
  });

  it('tasks and resolve routes over storages with secrets (presign and proxy failures) answer without them', async () => {
    const { apiP, res, bodies } = ownClients();
    const s = await newStorage(h.orgId, projectId, { type: 's3', role: 'import', ...BODIES.s3, presign: false } as StorageConfig);
    const [taskId] = await addTasks(h.orgId, projectId, [{ image: 's3://leak-bucket/missing.png' }], { storageId: s.id });
    await apiP('GET', `/api/tasks/${taskId}`);
    await apiP('GET', `/api/tasks?project=${projectId}`);
    const fileuri = Buffer.from('s3://leak-bucket/missing.png').toString('base64url');
    const r = await res('GET', `/tasks/${taskId}/resolve/?fileuri=${fileuri}`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    await res('GET', `/projects/${projectId}/resolve/?fileuri=${fileuri}`);
    const dir = join(h.root, 'leak');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.json'), '{}');
    await res('GET', '/data/local-files/?d=leak/a.json');
    expect(bodies).toHaveLength(5);
    expectNoSecrets(bodies);
  });

  // A sweep over the whole file's run: every response body recorded in this worker and every
  // captured log line (logs are not per test: a log line may be written after its request ended).
  it('checked: every body and every captured log line is free of every secret value', () => {
    expect(responseBodies.length).toBeGreaterThan(80);
    // The Powertools logger ran at DEBUG and wrote through the captured streams.
    expect(captured.filter((l) => l.includes('"level"')).length).toBeGreaterThan(0);
    expectNoSecrets([...responseBodies, ...captured]);
  });
});
