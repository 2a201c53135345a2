/**
 * Where `POST /api/storages/<type>/validate` puts a failed connection check, and its wording:
 * Label Studio reports connection failures (missing directory, bucket or container, refused
 * credentials, unreachable host) under `non_field_errors`, with its own sentence, which labelsync
 * keeps first (scripts match on it); a malformed field value stays under its field.
 * Real emulators throughout (s3rver, Azurite, the GCS emulator, Redis, Azurite's OAuth mode for
 * azure_spi). Azure AD cannot be reached offline: the unreachable case uses the real
 * ClientSecretCredential against a closed authority host; the refused-secret case is simulated by
 * a credential that throws @azure/identity's own AuthenticationError with Azure AD's error body.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticationError, ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { handler as projectsHandler } from '../../functions/api/projects';
import { createS3Buckets } from '../contract/helpers';
import { fakeAzureAdCredential } from '../emulators/azure-helpers';
import { client, newTenant, patchApp, useTestEnvironment, type ApiResult } from './api-harness';

const em = inject('emulators');
const docRoot = mkdtempSync(join(tmpdir(), 'labelsync-lserr-'));
const BUCKET = 'ls-errors';
const CONTAINER = 'ls-errors';
const TENANT = '72f988bf-0000-0000-0000-2d7cd011db47';

let api: ReturnType<typeof client>;
let project: number;

beforeAll(async () => {
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = docRoot;
  useTestEnvironment();
  const t = await newTenant('ls-errors');
  api = client(storagesHandler, t.token);
  project = (await client(projectsHandler, t.token)('POST', '/api/projects/', { title: 'errors' })).json.id;
  await createS3Buckets(em.s3.endpoint, em.s3, em.s3.region, [BUCKET]);
  const az = new BlobServiceClient(em.azure.blobEndpoint, new StorageSharedKeyCredential(em.azure.accountName, em.azure.accountKey));
  await az.getContainerClient(CONTAINER).createIfNotExists();
  const gcs = new Storage({ apiEndpoint: em.gcs.apiEndpoint, projectId: em.gcs.projectId, credentials: em.gcsCredentials });
  if (!(await gcs.bucket(BUCKET).exists())[0]) await gcs.createBucket(BUCKET);
});

/** The SDK's `import_storage.<type>.validate(...)` call. */
const validate = (type: string, body: Record<string, unknown>) => api('POST', `/api/storages/${type}/validate/`, { project, ...body });

/** Asserts a 400 whose only entry is `non_field_errors`, starting with Label Studio's sentence. */
function expectConnectionError(r: ApiResult, sentence: string | RegExp): string {
  expect(r.status, r.text).toBe(400);
  expect(Object.keys(r.json.validation_errors)).toEqual(['non_field_errors']);
  const [message] = r.json.validation_errors.non_field_errors;
  if (typeof sentence === 'string') expect(message.startsWith(sentence), message).toBe(true);
  else expect(message).toMatch(sentence);
  return message;
}

const s3 = (extra: Record<string, unknown> = {}) => ({
  bucket: BUCKET, region_name: em.s3.region, s3_endpoint: em.s3.endpoint, aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey, ...extra,
});
const azure = (extra: Record<string, unknown> = {}) => ({
  container: CONTAINER, account_name: em.azure.accountName, account_key: em.azure.accountKey, azure_endpoint: em.azure.blobEndpoint, ...extra,
});
const gcs = (extra: Record<string, unknown> = {}) => ({
  bucket: BUCKET, gcs_endpoint: em.gcs.apiEndpoint, google_project_id: em.gcs.projectId, google_application_credentials: JSON.stringify(em.gcsCredentials), ...extra,
});

describe('connection checks land under non_field_errors with Label Studio\'s sentence first', () => {
  it('localfiles: a missing directory or a file is a connection error; a relative path stays under path', async () => {
    const missing = join(docRoot, 'nope');
    expectConnectionError(await validate('localfiles', { path: missing }), `Absolute local path "${missing}" does not exist`);
    writeFileSync(join(docRoot, 'file.txt'), 'x');
    expectConnectionError(await validate('localfiles', { path: join(docRoot, 'file.txt') }), /is not a directory/);
    const relative = await validate('localfiles', { path: 'rel/dir' });
    expect(relative.status).toBe(400);
    expect(Object.keys(relative.json.validation_errors)).toEqual(['path']);
  });

  it('s3: missing bucket, refused credentials, empty prefix; a malformed bucket name stays under bucket', async () => {
    expect((await validate('s3', s3())).status).toBe(200);
    const m = expectConnectionError(await validate('s3', s3({ bucket: 'ls-errors-missing' })), 'Cannot find bucket ls-errors-missing in S3');
    expect(m).toContain("'ls-errors-missing' does not exist");
    expectConnectionError(await validate('s3', s3({ aws_secret_access_key: 'wrong-secret-9f8e7d' })), `Cannot connect to S3 ${BUCKET} with specified AWS credentials`);
    expectConnectionError(await validate('s3', s3({ prefix: 'nothing-here' })), `s3://${BUCKET}/nothing-here not found.`);
    const badName = await validate('s3', s3({ bucket: 'Bad_Bucket!' }));
    expect(badName.status).toBe(400);
    expect(Object.keys(badName.json.validation_errors)).toEqual(['bucket']);
  });

  it('azure: missing container and empty prefix', async () => {
    expect((await validate('azure', azure())).status).toBe(200);
    const m = expectConnectionError(await validate('azure', azure({ container: 'ls-errors-missing' })), 'Container not found: ls-errors-missing');
    expect(m).toContain("'ls-errors-missing' does not exist");
    expectConnectionError(await validate('azure', azure({ prefix: 'nothing-here' })), `azure-blob://${CONTAINER}/nothing-here not found.`);
  });

  it('gcs: missing bucket and empty prefix', async () => {
    expect((await validate('gcs', gcs())).status).toBe(200);
    expectConnectionError(await validate('gcs', gcs({ bucket: 'ls-errors-missing' })), /'ls-errors-missing' does not exist/);
    expectConnectionError(await validate('gcs', gcs({ prefix: 'nothing-here' })), `No blobs found in ${BUCKET}/nothing-here or prefix doesn't exist`);
  });

  it('redis: an unreachable port', async () => {
    const closed = await closedPort();
    const m = expectConnectionError(await validate('redis', { host: em.redis.host, port: String(closed) }), "Can't connect to Redis server.");
    expect(m).toContain(`${closed}`);
  });
});

describe('azure_spi names why the service principal failed', () => {
  const az = () => em.azureOauth;
  const spi = (endpoint: string) => ({
    container: 'ls-errors-spi', account_name: az().accountName, tenant_id: TENANT, client_id: 'ls-client', client_secret: 'ls-secret-5d4c3b', azure_endpoint: endpoint,
  });
  const withCredential = (credential: TokenCredential) =>
    patchApp({ storageHooks: { azureTokenCredential: credential, azureCa: readFileSync(az().caCertPath, 'utf8'), azureSasVersion: '2025-11-05' } });

  it('refuses a bearer token over plain http, naming the endpoint', async () => {
    withCredential(fakeAzureAdCredential(TENANT));
    const r = await validate('azure_spi', spi(em.azure.blobEndpoint));
    const m = expectConnectionError(r, /^azure_spi needs an https endpoint/);
    expect(m).toContain('plain http');
  });

  it('reports Azure AD as unreachable (real ClientSecretCredential, closed authority host)', async () => {
    withCredential(new ClientSecretCredential(TENANT, 'ls-client', 'ls-secret-5d4c3b', { authorityHost: `https://127.0.0.1:${await closedPort()}`, retryOptions: { maxRetries: 0 } }));
    const m = expectConnectionError(await validate('azure_spi', spi(az().blobEndpoint)), /could not sign in: Azure AD .* is unreachable/);
    expect(m).not.toContain('ls-secret-5d4c3b');
  });

  it('names a wrong secret, client id or tenant from Azure AD\'s error code', async () => {
    const refusing = (code: string): TokenCredential => ({
      async getToken() {
        throw new AuthenticationError(401, { error: 'invalid_client', error_description: `${code}: refused. Trace ID: 0` });
      },
    });
    const cases: [string, RegExp][] = [
      ['AADSTS7000215', /client_secret is wrong or expired \(AADSTS7000215\)/],
      ['AADSTS700016', /client_id names no application/],
      ['AADSTS90002', /tenant_id names no Azure AD tenant/],
      ['AADSTS50000', /Azure AD refused tenant_id, client_id or client_secret \(AADSTS50000\)/],
    ];
    for (const [code, expected] of cases) {
      withCredential(refusing(code));
      expectConnectionError(await validate('azure_spi', spi(az().blobEndpoint)), expected);
    }
  });
});

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
