/**
 * Push notifications into event sync over real HTTP events through the storages handler:
 * Pub/Sub push (OIDC tokens signed with an RSA key this file owns, its JWKS served from a local
 * HTTP server standing in for Google's) and Event Grid webhooks (handshakes, blob events for
 * blobs created on Azurite). Refusals are checked to apply nothing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { webhookSecret } from '../../shared/api/storage-events/webhook-secret';
import { installApp, processApp } from '../../shared/process-app';
import { client, newTenant, useTestEnvironment, type ApiHandler } from './api-harness';
import type { StorageConfig } from '../../shared/storage/types';
import { deleteObjects, emulators, newProject, newStorage, seed, tasksOf } from './sync-helpers';

const run = Math.random().toString(36).slice(2, 8);
const PUBLIC_BASE = 'https://labelsync.test';
const SERVICE_ACCOUNT = `push-${run}@proj.iam.gserviceaccount.com`;
const KID = `kid-${run}`;

let h: { orgId: string; token: string };
let api: ReturnType<typeof client>;
let anon: ReturnType<typeof client>;
let jwks: Server;
let jwksFetches = 0;
const google = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

beforeAll(async () => {
  jwks = createServer((_req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' });
    res.end(JSON.stringify({ keys: [{ ...google.publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  process.env.LABELSYNC_GCS_PUSH_JWKS_URL = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/oauth2/v3/certs`;
  process.env.LABELSYNC_PUBLIC_BASE_URL = PUBLIC_BASE;
  useTestEnvironment();
  h = await newTenant('push');
  api = client(storagesHandler as unknown as ApiHandler, h.token);
  anon = client(storagesHandler as unknown as ApiHandler);
}, 120_000);

afterAll(async () => {
  installApp(undefined);
  delete process.env.LABELSYNC_GCS_PUSH_JWKS_URL;
  delete process.env.LABELSYNC_PUBLIC_BASE_URL;
  await new Promise((r) => jwks?.close(r));
});

/** A compact RS256 JWT (or `alg` as given) over `claims`. */
function jwt(claims: Record<string, unknown>, opts: { key?: KeyObject; kid?: string; alg?: string } = {}): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? KID, typ: 'JWT' })}.${enc(claims)}`;
  return `${head}.${sign('RSA-SHA256', Buffer.from(head), opts.key ?? google.privateKey).toString('base64url')}`;
}

function pushClaims(audience: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'https://accounts.google.com', aud: audience, email: SERVICE_ACCOUNT, email_verified: true, iat: now, exp: now + 3600, sub: '1234', ...extra };
}

function pubsubBody(bucket: string, key: string, eventType = 'OBJECT_FINALIZE', generation = '1700000000000001') {
  const resource = { kind: 'storage#object', bucket, name: key, generation, size: '12', etag: 'CJ3x', updated: new Date().toISOString() };
  return {
    message: {
      attributes: { eventType, bucketId: bucket, objectId: key, objectGeneration: generation, payloadFormat: 'JSON_API_V1', eventTime: new Date().toISOString() },
      data: Buffer.from(JSON.stringify(resource)).toString('base64'),
      messageId: `m-${Math.random()}`,
      publishTime: new Date().toISOString(),
    },
    subscription: 'projects/proj/subscriptions/labelsync',
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const gcsBucket = `push-gcs-${run}`;

function gcsConfig(): StorageConfig {
  const { gcs, gcsCredentials } = emulators();
  return {
    type: 'gcs', role: 'import', bucket: gcsBucket, use_blob_urls: true, recursive_scan: true,
    gcs_endpoint: gcs.apiEndpoint, google_project_id: gcs.projectId, google_application_credentials: JSON.stringify(gcsCredentials),
  };
}

async function gcsStorage(extra: Record<string, unknown> = {}) {
  const projectId = await newProject(h.orgId);
  const s = await newStorage(h.orgId, projectId, gcsConfig(), { event_sync: true, event_push_service_account: SERVICE_ACCOUNT, ...extra });
  return { s, bucket: gcsBucket, projectId, path: `/api/storages/gcs/${s.id}/events`, audience: `${PUBLIC_BASE}/api/storages/gcs/${s.id}/events` };
}

describe('GCS Pub/Sub push', () => {
  it('refuses every token that does not prove the storage service account, and applies nothing', async () => {
    const { path, audience, bucket, projectId } = await gcsStorage();
    const body = pubsubBody(bucket, 'img/a.png');
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Record<string, string>, number][] = [
      ['no token', {}, 401],
      ['Token scheme', { authorization: `Token ${h.token}` }, 401],
      ['signed by another key', bearer(jwt(pushClaims(audience), { key: stranger.privateKey })), 401],
      ['unknown kid', bearer(jwt(pushClaims(audience), { kid: 'other' })), 401],
      ['alg none', bearer(jwt(pushClaims(audience), { alg: 'none' })), 401],
      ['HS256', bearer(jwt(pushClaims(audience), { alg: 'HS256' })), 401],
      ['other issuer', bearer(jwt(pushClaims(audience, { iss: 'https://evil.example' }))), 401],
      ['other audience', bearer(jwt(pushClaims(`${PUBLIC_BASE}/api/storages/gcs/999999/events`))), 401],
      ['expired', bearer(jwt(pushClaims(audience, { iat: now - 7200, exp: now - 3600 }))), 401],
      ['other service account', bearer(jwt(pushClaims(audience, { email: 'someone@proj.iam.gserviceaccount.com' }))), 403],
      ['unverified email', bearer(jwt(pushClaims(audience, { email_verified: false }))), 403],
      ['tampered payload', bearer(jwt(pushClaims(audience)).replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify(pushClaims(audience, { email: 'x@y.z' }))).toString('base64url')}.`)), 401],
    ];
    for (const [name, headers, status] of cases) {
      const res = await anon('POST', path, body, headers);
      expect(res.status, name).toBe(status);
      expect(res.json.detail, name).toBeTruthy();
    }
    expect(await tasksOf(projectId)).toEqual([]);
  });

  it('refuses a push for another bucket (400 naming the field) and for a storage without a push service account (403)', async () => {
    const { path, audience } = await gcsStorage();
    const res = await anon('POST', path, pubsubBody('some-other-bucket', 'a.png'), bearer(jwt(pushClaims(audience))));
    expect(res.status).toBe(400);
    expect(Object.keys(res.json.validation_errors)).toEqual(['message.attributes.bucketId']);
    const bare = await gcsStorage({ event_push_service_account: null });
    const res2 = await anon('POST', bare.path, pubsubBody(bare.bucket, 'a.png'), bearer(jwt(pushClaims(bare.audience))));
    expect(res2.status).toBe(403);
  });

  it('answers 404 only after a valid signature, and verifies a stored audience instead of the derived one', async () => {
    const missing = await anon('POST', '/api/storages/gcs/987654321/events', pubsubBody('b', 'a'), bearer(jwt(pushClaims('x'))));
    expect(missing.status).toBe(404);
    const unsigned = await anon('POST', '/api/storages/gcs/987654321/events', pubsubBody('b', 'a'), bearer(jwt(pushClaims('x'), { key: stranger.privateKey })));
    expect(unsigned.status).toBe(401);
    const { path, bucket, audience } = await gcsStorage({ event_push_audience: 'labelsync-push', event_sync: false });
    expect((await anon('POST', path, pubsubBody(bucket, 'a.png'), bearer(jwt(pushClaims(audience))))).status).toBe(401);
    // Authenticated, but the storage does not follow events: refused so Pub/Sub retries later.
    expect((await anon('POST', path, pubsubBody(bucket, 'a.png'), bearer(jwt(pushClaims('labelsync-push'))))).status).toBe(409);
  });

  it('a valid push for an object on the GCS emulator becomes a task; a redelivery adds nothing; its delete removes the task', async () => {
    const { gcs, gcsCredentials } = emulators();
    const admin = new Storage({ apiEndpoint: gcs.apiEndpoint, projectId: gcs.projectId, credentials: gcsCredentials });
    if (!(await admin.bucket(gcsBucket).exists())[0]) await admin.createBucket(gcsBucket);
    const { path, audience, bucket, projectId } = await gcsStorage({ sync_deletions: 'remove' });
    await seed(gcsConfig(), { 'img/a.png': 'x' });
    const res = await anon('POST', path, pubsubBody(bucket, 'img/a.png'), bearer(jwt(pushClaims(audience))));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ received: 1, created: 1 });
    expect((await tasksOf(projectId)).map((t) => t.data.image)).toEqual([`gs://${bucket}/img/a.png`]);
    // A redelivery of the same message creates nothing new.
    expect((await anon('POST', path, pubsubBody(bucket, 'img/a.png'), bearer(jwt(pushClaims(audience))))).status).toBe(200);
    expect(await tasksOf(projectId)).toHaveLength(1);
    await deleteObjects(gcsConfig(), ['img/a.png']);
    const del = await anon('POST', path, pubsubBody(bucket, 'img/a.png', 'OBJECT_DELETE', '1700000000000002'), bearer(jwt(pushClaims(audience))));
    expect(del.status).toBe(200);
    expect(await tasksOf(projectId)).toEqual([]);
  });

  it('shows the owner what the subscription needs; other organizations get 404', async () => {
    const { path, audience, s } = await gcsStorage();
    const res = await api('GET', path);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ push_endpoint: audience, audience, service_account: SERVICE_ACCOUNT });
    const other = await newTenant('push-other');
    expect((await client(storagesHandler as unknown as ApiHandler, other.token)('GET', path)).status).toBe(404);
    expect((await anon('GET', `/api/storages/gcs/${s.id}/events`)).status).toBe(401);
  });

  it('fetches the key set once for many pushes (cached for its max-age)', async () => {
    const before = jwksFetches;
    const { path, audience, bucket } = await gcsStorage({ event_sync: false });
    for (let i = 0; i < 3; i++) expect((await anon('POST', path, pubsubBody(bucket, 'a.png'), bearer(jwt(pushClaims(audience))))).status).toBe(409);
    expect(jwksFetches - before).toBeLessThanOrEqual(1);
    expect(jwksFetches).toBeGreaterThanOrEqual(1);
  });
});

async function azureStorage(extra: Record<string, unknown> = {}) {
  const az = emulators().azure;
  const container = `push-az-${run}`;
  const projectId = await newProject(h.orgId);
  const s = await newStorage(
    h.orgId,
    projectId,
    { type: 'azure', role: 'import', container, account_name: az.accountName, account_key: az.accountKey, azure_endpoint: az.blobEndpoint, use_blob_urls: true },
    { event_sync: true, ...extra },
  );
  const secret = webhookSecret(await processApp().signingKey(), s.id);
  return { s, container, projectId, secret, path: `/api/storages/azure/${s.id}/events` };
}

function blobEvent(container: string, key: string, type = 'Microsoft.Storage.BlobCreated', sequencer = '00000000000000000000000000000001000000000000abcd') {
  return {
    id: `e-${Math.random()}`,
    topic: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
    subject: `/blobServices/default/containers/${container}/blobs/${key}`,
    eventType: type,
    eventTime: new Date().toISOString(),
    dataVersion: '',
    data: { api: 'PutBlob', eTag: '0x8DC0000000000', contentLength: 12, blobType: 'BlockBlob', sequencer, url: `https://x.blob.core.windows.net/${container}/${key}` },
  };
}

describe('Azure Event Grid webhook', () => {
  it('answers the subscription validation handshake only with the storage secret', async () => {
    const { path, secret, s } = await azureStorage();
    const validation = [{ id: 'v1', eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', subject: '', eventTime: new Date().toISOString(), data: { validationCode: 'CODE-123', validationUrl: 'https://x' }, dataVersion: '2' }];
    const ok = await anon('POST', `${path}?code=${secret}`, validation, { 'aeg-event-type': 'SubscriptionValidation' });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ validationResponse: 'CODE-123' });
    expect((await anon('POST', path, validation, { 'x-labelsync-event-secret': secret })).json).toEqual({ validationResponse: 'CODE-123' });
    expect((await anon('POST', path, validation)).status).toBe(401);
    expect((await anon('POST', `${path}?code=${secret.slice(0, -1)}x`, validation)).status).toBe(401);
    // Another storage's secret does not open this one.
    const other = webhookSecret(await processApp().signingKey(), s.id + 1);
    expect((await anon('POST', `${path}?code=${other}`, validation)).status).toBe(401);
    // Unknown storage: the secret check comes first, so existence is not revealed.
    expect((await anon('POST', `/api/storages/azure/987654321/events?code=${secret}`, validation)).status).toBe(401);
  });

  it('answers the CloudEvents OPTIONS handshake with WebHook-Allowed-Origin', async () => {
    const { path, secret } = await azureStorage();
    const ok = await anon('OPTIONS', `${path}?code=${secret}`, undefined, { 'webhook-request-origin': 'eventgrid.azure.net' });
    expect(ok.status).toBe(200);
    expect(ok.headers['webhook-allowed-origin']).toBe('eventgrid.azure.net');
    expect((await anon('OPTIONS', path, undefined, { 'webhook-request-origin': 'eventgrid.azure.net' })).status).toBe(401);
  });

  it('refuses events for another container (400) and a wrong secret (401), applying nothing', async () => {
    const { path, secret, container, projectId } = await azureStorage();
    const wrong = await anon('POST', `${path}?code=${secret}`, [blobEvent('other-container', 'a.png')]);
    expect(wrong.status).toBe(400);
    expect(Object.keys(wrong.json.validation_errors)).toEqual(['[0].subject']);
    expect((await anon('POST', `${path}?code=nope`, [blobEvent(container, 'a.png')])).status).toBe(401);
    expect(await tasksOf(projectId)).toEqual([]);
  });

  it('shows the owner the webhook URL with its secret', async () => {
    const { path, secret } = await azureStorage();
    const res = await api('GET', path);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ webhook_url: `${PUBLIC_BASE}${path}?code=${secret}`, secret, secret_header: 'x-labelsync-event-secret' });
  });

  it('blob created on Azurite and posted as an Event Grid event becomes a task; BlobDeleted removes it', async () => {
    const az = emulators().azure;
    const { path, secret, container, projectId } = await azureStorage({ sync_deletions: 'remove', recursive_scan: true });
    const svc = new BlobServiceClient(az.blobEndpoint, new StorageSharedKeyCredential(az.accountName, az.accountKey));
    await svc.getContainerClient(container).createIfNotExists();
    const blob = svc.getContainerClient(container).getBlockBlobClient('img/a.png');
    await blob.upload('x', 1);
    const res = await anon('POST', `${path}?code=${secret}`, [blobEvent(container, 'img/a.png')]);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ received: 1, created: 1, ignored: 0 });
    expect((await tasksOf(projectId)).map((t) => t.data.image)).toEqual([`azure-blob://${container}/img/a.png`]);
    await blob.delete();
    const del = await anon('POST', `${path}?code=${secret}`, [blobEvent(container, 'img/a.png', 'Microsoft.Storage.BlobDeleted', '00000000000000000000000000000001000000000000abce')]);
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ received: 1, removed: 1 });
    expect(await tasksOf(projectId)).toEqual([]);
  });
});
