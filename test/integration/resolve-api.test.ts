/**
 * URI resolution end to end: tasks read through the projects handler (real API Gateway v2 events)
 * carry resolve URLs; those URLs are fetched for real through the local runtime's HTTP server
 * (browser-style: no Authorization, media token only), following 303s to the emulators' presigned
 * URLs (s3rver, the GCS fake and Azurite verify the signatures) or streaming through the proxy.
 * Azure service principal: Azure AD is unreachable offline, so an injected TokenCredential
 * returns a JWT Azurite's `--oauth basic` accepts (the same stand-in as the provider contract).
 * s3s: real AssumeRole on moto when present, else a stub STS client (see countingSts).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import https from 'node:https';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { Storage } from '@google-cloud/storage';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { StsLike } from '../../shared/storage/sts';
import { createS3Buckets } from '../contract/helpers';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as projectsHandler } from '../../functions/api/projects';
import { handler as resolveHandler } from '../../functions/api/resolve';
import { installApp, processApp } from '../../shared/process-app';
import type { StorageItem } from '../../shared/db/items';
import { encodeFileUri } from '../../shared/resolve/fileuri';
import { signMediaToken } from '../../shared/resolve/media-token';
import { PROXY_MAX_RANGE_BYTES } from '../../shared/resolve/range';
import type { LocalHttpServer } from '../../local/http-server';
import { createEmulatorS3Client } from '../emulators/s3-client';
import { client, newTenant, useTestEnvironment, patchApp } from './api-harness';
import { addStorage, addTasks, parseResolveUrl, patchStorage, startServer } from './resolve-helpers';

const RUN = Date.now().toString(36);
const S3_BUCKET = `resolve-s3-${RUN}`;
const GCS_BUCKET = `resolve-gcs-${RUN}`;
const AZ_CONTAINER = `resolve-az-${RUN}`;
const SPI_CONTAINER = `resolve-spi-${RUN}`;
const TENANT = '72f988bf-0000-0000-0000-2d7cd011db47';
const LABEL_CONFIG = '<View><Image name="img" value="$image"/><Text name="t" value="$text"/></View>';

const ODD_KEYS = ['odd/with space.jpg', 'odd/plus+sign.png', 'odd/100%.txt', 'odd/hash#frag.jpg', 'odd/q?x=1&y=2.jpg', 'odd/ünïcødé 漢字.png', 'a/b/c/d/e/f/g/deep.bin'];
const body = (k: string) => Buffer.from(`content of ${k} `.repeat(20));
const BIG = Buffer.alloc(9 * 1024 * 1024 + 123, 7);
for (let i = 0; i < BIG.length; i += 4096) BIG[i] = i % 251;

function fakeJwt(): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return [b64({ alg: 'RS256', typ: 'JWT' }), b64({ aud: 'https://storage.azure.com', iss: `https://sts.windows.net/${TENANT}/`, iat: now - 60, nbf: now - 60, exp: now + 3600, oid: 'o', tid: TENANT }), 'c2ln'].join('.');
}
const adCredential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: fakeJwt(), expiresOnTimestamp: Date.now() + 3600_000 }) };

// s3s: with moto, real AssumeRole on moto and S3 on moto (s3rver only takes its own key); without
// moto, a stub STS (the only mock the rules allow) hands out s3rver's key with a session token.
const stsEndpoint = inject('emulators').sts?.endpoint;
const S3S_BUCKET = `resolve-s3s-${RUN}`;
const stsCalls: string[] = [];
const realSts = stsEndpoint ? new STSClient({ endpoint: stsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'base-key', secretAccessKey: 'base-secret' } }) : undefined;
const countingSts: StsLike = {
  async send(cmd: AssumeRoleCommand) {
    stsCalls.push(cmd.input.RoleArn ?? '');
    if (realSts) return realSts.send(cmd);
    const em = inject('emulators').s3;
    return { Credentials: { AccessKeyId: em.accessKeyId, SecretAccessKey: em.secretAccessKey, SessionToken: 'stub-session-token', Expiration: new Date(Date.now() + 3600_000) } };
  },
};

let api: ReturnType<typeof client>;
let other: ReturnType<typeof client>;
let orgA: string;
let orgB: string;
let projectId: number;
let otherProjectId: number;
let server: LocalHttpServer;
let s3: StorageItem;
let gcs: StorageItem;
let az: StorageItem;
let spi: StorageItem;
let s3s: StorageItem;
let broken: StorageItem;
let brokenServer: Server;
let key: Buffer;

beforeAll(async () => {
  useTestEnvironment();
  const em = inject('emulators');
  const a = await newTenant('resolve');
  const b = await newTenant('resolve-other');
  orgA = a.orgId;
  orgB = b.orgId;
  api = client(projectsHandler, a.token);
  other = client(projectsHandler, b.token);
  projectId = (await api('POST', '/api/projects', { title: 'resolve', label_config: LABEL_CONFIG })).json.id;
  otherProjectId = (await other('POST', '/api/projects', { title: 'resolve-b', label_config: LABEL_CONFIG })).json.id;
  key = await processApp().signingKey();

  // S3 objects: odd keys, a big one, and one stored as octet-stream.
  const s3c = createEmulatorS3Client(em.s3);
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  await s3c.send(new CreateBucketCommand({ Bucket: S3_BUCKET }));
  for (const k of ODD_KEYS) await s3c.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: k, Body: body(k) }));
  await s3c.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: 'img/a.jpg', Body: body('img/a.jpg'), ContentType: 'binary/octet-stream' }));
  await s3c.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: 'big/video.mp4', Body: BIG, ContentType: 'application/octet-stream' }));
  s3c.destroy();

  const gs = new Storage({ apiEndpoint: em.gcs.apiEndpoint, projectId: em.gcs.projectId, credentials: em.gcsCredentials });
  await gs.createBucket(GCS_BUCKET);
  for (const k of ['g/file.pdf', ...ODD_KEYS]) await gs.bucket(GCS_BUCKET).file(k).save(body(k));

  const azs = new BlobServiceClient(em.azure.blobEndpoint, new StorageSharedKeyCredential(em.azure.accountName, em.azure.accountKey));
  await azs.getContainerClient(AZ_CONTAINER).createIfNotExists();
  for (const k of ['x/y.png', ...ODD_KEYS]) await azs.getContainerClient(AZ_CONTAINER).getBlockBlobClient(k).upload(body(k), body(k).length);

  const ca = readFileSync(em.azureOauth.caCertPath, 'utf8');
  const agent = new https.Agent({ ca });
  const spiAdmin = new BlobServiceClient(em.azureOauth.blobEndpoint, new StorageSharedKeyCredential(em.azureOauth.accountName, em.azureOauth.accountKey));
  const pipeline = (spiAdmin as unknown as { storageClientContext: { pipeline: { addPolicy(p: object): void } } }).storageClientContext.pipeline;
  pipeline.addPolicy({ name: 'test-ca', sendRequest: (req: { agent?: unknown }, next: (r: unknown) => unknown) => ((req.agent = agent), next(req)) });
  await spiAdmin.getContainerClient(SPI_CONTAINER).createIfNotExists();
  await spiAdmin.getContainerClient(SPI_CONTAINER).getBlockBlobClient('s/k.png').upload(body('s/k.png'), body('s/k.png').length);
  patchApp({ storageHooks: { azureTokenCredential: adCredential, azureCa: ca, azureSasVersion: '2025-11-05', stsClient: countingSts } });

  s3 = await addStorage(orgA, projectId, {
    type: 's3', role: 'import', bucket: S3_BUCKET, s3_endpoint: em.s3.endpoint, region_name: em.s3.region,
    aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey, presign: true, presign_ttl: 1,
  });
  gcs = await addStorage(orgA, projectId, {
    type: 'gcs', role: 'import', bucket: GCS_BUCKET, gcs_endpoint: em.gcs.apiEndpoint, google_project_id: em.gcs.projectId,
    google_application_credentials: JSON.stringify(em.gcsCredentials), presign: true, presign_ttl: 5,
  });
  az = await addStorage(orgA, projectId, {
    type: 'azure', role: 'import', container: AZ_CONTAINER, account_name: em.azure.accountName, account_key: em.azure.accountKey,
    azure_endpoint: em.azure.blobEndpoint, presign: true,
  });
  spi = await addStorage(orgA, projectId, {
    type: 'azure_spi', role: 'import', container: SPI_CONTAINER, account_name: em.azureOauth.accountName, tenant_id: TENANT,
    client_id: 'cid', client_secret: 'csecret', azure_endpoint: em.azureOauth.blobEndpoint, presign: true,
  });

  const s3sEndpoint = stsEndpoint ?? em.s3.endpoint;
  const s3sKeys = stsEndpoint ? { accessKeyId: 'base-key', secretAccessKey: 'base-secret' } : em.s3;
  await createS3Buckets(s3sEndpoint, s3sKeys, 'us-east-1', [S3S_BUCKET]);
  const s3sAdmin = createEmulatorS3Client({ ...em.s3, endpoint: s3sEndpoint, ...s3sKeys });
  await s3sAdmin.send(new PutObjectCommand({ Bucket: S3S_BUCKET, Key: 'role/a.jpg', Body: body('role/a.jpg') }));
  s3sAdmin.destroy();
  s3s = await addStorage(orgA, projectId, {
    type: 's3s', role: 'import', bucket: S3S_BUCKET, s3_endpoint: s3sEndpoint, region_name: 'us-east-1',
    role_arn: 'arn:aws:iam::123456789012:role/labelsync-reader', presign: true,
    ...(stsEndpoint ? { aws_access_key_id: 'base-key', aws_secret_access_key: 'base-secret' } : {}),
  });

  // An "S3" that sends response headers and then drops the connection before any body byte.
  brokenServer = createServer((req, res) => {
    res.writeHead(200, { 'content-length': '1000', 'content-type': 'image/png', etag: '"x"' });
    res.flushHeaders();
    setTimeout(() => res.socket?.destroy(), 20);
  });
  await new Promise<void>((r) => brokenServer.listen(0, '127.0.0.1', r));
  broken = await addStorage(orgA, projectId, {
    type: 's3', role: 'import', bucket: 'broken-bucket', s3_endpoint: `http://127.0.0.1:${(brokenServer.address() as AddressInfo).port}`,
    region_name: 'us-east-1', aws_access_key_id: 'k', aws_secret_access_key: 's', presign: false,
  });

  server = await startServer({ resolve: resolveHandler, projects: projectsHandler });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await new Promise((r) => brokenServer?.close(r));
  patchApp({ storageHooks: {} });
});

async function taskData(id: number, c = api): Promise<Record<string, unknown>> {
  const r = await c('GET', `/api/tasks/${id}`);
  expect(r.status).toBe(200);
  return r.json.data;
}

/** Browser-style fetch of a resolve URL through the local server (no Authorization). */
function browserFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(url, server.url), init);
}

/** One resolve request through the Lambda handler as API Gateway invokes it (AWS runtime). */
async function lambdaResolve(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const { v2Event } = await import('./api-harness');
  const res = await resolveHandler(v2Event(method, url, { headers }));
  const buf = res.body === undefined ? Buffer.alloc(0) : Buffer.from(res.body, res.isBase64Encoded ? 'base64' : 'utf8');
  return { status: res.statusCode ?? 200, headers: (res.headers ?? {}) as Record<string, string>, body: buf };
}

describe('task data rewriting', () => {
  it('rewrites every scheme wherever it sits, leaves unmatched URIs, and renames blob-mode $undefined$', async () => {
    const data = {
      image: `s3://${S3_BUCKET}/img/a.jpg`,
      html: `<embed src='gs://${GCS_BUCKET}/g/file.pdf'/><img src="azure-blob://${AZ_CONTAINER}/x/y.png" alt="a=b">`,
      nested: { list: [`azure-spi://${SPI_CONTAINER}/s/k.png`, 7, { deep: `text s3://${S3_BUCKET}/img/a.jpg more` }] },
      untouched: [`gs://bad-bucket/x.jpg`, `s3://${GCS_BUCKET}/g/file.pdf`, 'plain'],
    };
    const [id] = await addTasks(orgA, projectId, [data]);
    const out = (await taskData(id)) as typeof data;
    const image = parseResolveUrl(out.image);
    expect(image.path).toBe(`/tasks/${id}/resolve/`);
    expect(image.fileuri).toBe(encodeFileUri(data.image));
    expect(image.token).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    expect(out.html).toMatch(new RegExp(`^<embed src='/tasks/${id}/resolve/\\?fileuri=[^']+'/><img src="/tasks/${id}/resolve/\\?fileuri=[^"]+" alt="a=b">$`));
    expect(parseResolveUrl(out.nested.list[0] as string).fileuri).toBe(encodeFileUri(data.nested.list[0] as string));
    expect(out.nested.list[1]).toBe(7);
    expect((out.nested.list[2] as { deep: string }).deep).toMatch(new RegExp(`^text /tasks/${id}/resolve/\\?fileuri=\\S+ more$`));
    expect(out.untouched).toEqual(data.untouched);

    const [blob] = await addTasks(orgA, projectId, [{ $undefined$: `s3://${S3_BUCKET}/img/a.jpg` }], { storageId: s3.id });
    const bd = await taskData(blob);
    expect(Object.keys(bd)).toEqual(['image']);
    expect(parseResolveUrl(bd.image as string).path).toBe(`/tasks/${blob}/resolve/`);
  });

  it('rewrites the task list too, with the context built once per page', async () => {
    const ids = await addTasks(orgA, projectId, [{ image: `s3://${S3_BUCKET}/img/a.jpg` }, { image: `gs://${GCS_BUCKET}/g/file.pdf` }]);
    const r = await api('GET', `/api/tasks?project=${projectId}&page_size=100`);
    expect(r.status).toBe(200);
    const list = (r.json.tasks ?? r.json.results ?? r.json) as { id: number; data: { image: string } }[];
    for (const id of ids) {
      const t = list.find((x) => x.id === id)!;
      expect(parseResolveUrl(t.data.image).path).toBe(`/tasks/${id}/resolve/`);
    }
  });
});

describe('presigned redirects, fetched for real', () => {
  it.each([
    ['s3', () => `s3://${S3_BUCKET}/img/a.jpg`, 60, () => s3],
    ['gcs', () => `gs://${GCS_BUCKET}/g/file.pdf`, 300, () => gcs],
    ['azure', () => `azure-blob://${AZ_CONTAINER}/x/y.png`, 60, () => az],
    ['azure_spi', () => `azure-spi://${SPI_CONTAINER}/s/k.png`, 60, () => spi],
    ['azure_spi (LS spelling)', () => `azure_spi://${SPI_CONTAINER}/s/k.png`, 60, () => spi],
  ])('%s: 303 with no-store cache header to a Location that serves the object; with presign off the bytes stream through', async (_n, uri, ttl, storage) => {
    const [id] = await addTasks(orgA, projectId, [{ image: uri() }]);
    const url = (await taskData(id)).image as string;
    const want = body(uri().split('/').slice(3).join('/'));
    const r = await browserFetch(url, { redirect: 'manual' });
    expect(r.status).toBe(303);
    expect(r.headers.get('cache-control')).toBe(`no-store, max-age=${ttl}`);
    const followed = await browserFetch(url);
    expect(followed.status).toBe(200);
    expect(Buffer.from(await followed.arrayBuffer())).toEqual(want);
    await patchStorage(storage(), { presign: false });
    try {
      const proxied = await browserFetch(url, { redirect: 'manual' });
      expect(proxied.status).toBe(200);
      expect(proxied.headers.get('cache-control')).toBe('private, max-age=3600, must-revalidate');
      expect(Buffer.from(await proxied.arrayBuffer())).toEqual(want);
    } finally {
      await patchStorage(storage(), { presign: true });
    }
  });

  it.each(['s3', 'gcs', 'azure'] as const)('%s: odd keys (space, plus, percent, hash, question mark, unicode, deep folders) fetch the right bytes, presigned and proxied', async (kind) => {
    const st = { s3, gcs, azure: az }[kind];
    const prefix = { s3: `s3://${S3_BUCKET}`, gcs: `gs://${GCS_BUCKET}`, azure: `azure-blob://${AZ_CONTAINER}` }[kind];
    const ids = await addTasks(orgA, projectId, ODD_KEYS.map((k) => ({ image: `${prefix}/${k}` })));
    for (const presign of [true, false]) {
      await patchStorage(st, { presign });
      for (let i = 0; i < ODD_KEYS.length; i++) {
        const url = (await taskData(ids[i])).image as string;
        const r = await browserFetch(url);
        expect(r.status, `${kind} presign=${presign} ${ODD_KEYS[i]}`).toBe(200);
        expect(Buffer.from(await r.arrayBuffer())).toEqual(body(ODD_KEYS[i]));
      }
    }
    await patchStorage(st, { presign: true });
  });
});

describe('proxy (presign false)', () => {
  beforeAll(async () => {
    await patchStorage(s3, { presign: false });
  });
  afterAll(async () => {
    await patchStorage(s3, { presign: true });
  });

  it('streams with content type guessed from octet-stream, length, ETag, Last-Modified; 304 on If-None-Match', async () => {
    const [id] = await addTasks(orgA, projectId, [{ image: `s3://${S3_BUCKET}/img/a.jpg` }]);
    const url = (await taskData(id)).image as string;
    const r = await browserFetch(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/jpeg');
    expect(Number(r.headers.get('content-length'))).toBe(body('img/a.jpg').length);
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect(r.headers.get('cache-control')).toBe('private, max-age=3600, must-revalidate');
    expect(new Date(r.headers.get('last-modified')!).getTime()).toBeGreaterThan(Date.now() - 3600_000);
    const etag = r.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(body('img/a.jpg'));
    const again = await browserFetch(url, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
  });

  it('honours Range with 206 + Content-Range, capped per response (8 MiB locally, 4 MiB in AWS), and answers HEAD', async () => {
    const [id] = await addTasks(orgA, projectId, [{ video: `s3://${S3_BUCKET}/big/video.mp4` }]);
    const url = (await taskData(id)).video as string;
    const r = await browserFetch(url, { headers: { range: 'bytes=10-19' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 10-19/${BIG.length}`);
    expect(r.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await r.arrayBuffer())).toEqual(BIG.subarray(10, 20));
    const open = await browserFetch(url, { headers: { range: 'bytes=100-' } });
    const cap = PROXY_MAX_RANGE_BYTES.local;
    expect(open.status).toBe(206);
    expect(open.headers.get('content-range')).toBe(`bytes 100-${100 + cap}/${BIG.length}`);
    // Buffer.equals: vitest's deep equality walks 8 MiB element by element (minutes).
    expect(Buffer.from(await open.arrayBuffer()).equals(BIG.subarray(100, 101 + cap))).toBe(true);
    const head = await browserFetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(BIG.length);
    expect(head.headers.get('content-type')).toBe('video/mp4');
    expect(await head.text()).toBe('');

    // Through API Gateway + Lambda the response is buffered: ranges are capped at 4 MiB, and a
    // whole object over the cap is refused with a message saying how to fetch it.
    const awsCap = PROXY_MAX_RANGE_BYTES.aws;
    const aws = await lambdaResolve(url, { range: 'bytes=0-' });
    expect(aws.status).toBe(206);
    expect(aws.headers['content-range']).toBe(`bytes 0-${awsCap}/${BIG.length}`);
    expect(aws.body.equals(BIG.subarray(0, awsCap + 1))).toBe(true);
    const whole = await lambdaResolve(url);
    expect(whole.status).toBe(413);
    expect(JSON.parse(whole.body.toString()).detail).toMatch(/Range/);
  });

  it('answers 424 when the store fails before the first byte', async () => {
    const [id] = await addTasks(orgA, projectId, [{ image: 's3://broken-bucket/a.png' }]);
    const url = (await taskData(id)).image as string;
    const r = await browserFetch(url);
    expect(r.status).toBe(424);
    const j = (await r.json()) as { error: string; detail: unknown };
    expect(j.error).toBe('Storage stream failed while proxying data');
    expect(typeof j.detail).toBe('string');
    void broken;
  });
});

describe('access control and errors', () => {
  let id: number;
  let url: string;
  beforeAll(async () => {
    [id] = await addTasks(orgA, projectId, [{ image: `s3://${S3_BUCKET}/img/a.jpg` }]);
    url = (await taskData(id)).image as string;
  });

  it('refuses expired and altered tokens with 403, and no credentials with 401', async () => {
    const { fileuri, token } = parseResolveUrl(url);
    const uri = `s3://${S3_BUCKET}/img/a.jpg`;
    const expired = signMediaToken(key, { orgId: orgA, scope: 'task', id, uri }, 60, Math.floor(Date.now() / 1000) - 3600);
    expect((await browserFetch(`/tasks/${id}/resolve/?fileuri=${fileuri}&token=${expired}`, { redirect: 'manual' })).status).toBe(403);
    const flipped = token.slice(0, -3) + (token.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await browserFetch(`/tasks/${id}/resolve/?fileuri=${fileuri}&token=${flipped}`, { redirect: 'manual' })).status).toBe(403);
    const otherUri = encodeFileUri(`s3://${S3_BUCKET}/odd/100%.txt`);
    expect((await browserFetch(`/tasks/${id}/resolve/?fileuri=${otherUri}&token=${token}`, { redirect: 'manual' })).status).toBe(403);
    expect((await browserFetch(`/tasks/${id}/resolve/?fileuri=${fileuri}`, { redirect: 'manual' })).status).toBe(401);
    // Without Authorization an unknown id looks like a bad token: ids cannot be probed.
    expect((await browserFetch(`/tasks/999999999/resolve/?fileuri=${fileuri}&token=${token}`, { redirect: 'manual' })).status).toBe(403);
    expect((await browserFetch(`/tasks/999999999/resolve/?fileuri=${fileuri}`, { redirect: 'manual' })).status).toBe(401);
    expect((await browserFetch(url, { redirect: 'manual' })).status).toBe(303);
  });

  it('accepts Authorization instead of a token, on the /presign/ alias too; 400 without fileuri; plain URI fallback', async () => {
    const tokenA = (await newTenantToken(orgA));
    const { fileuri } = parseResolveUrl(url);
    for (const path of [`/tasks/${id}/resolve/?fileuri=${fileuri}`, `/tasks/${id}/presign?fileuri=${fileuri}`, `/tasks/${id}/resolve?fileuri=${encodeURIComponent(`s3://${S3_BUCKET}/img/a.jpg`)}`]) {
      const r = await lambdaResolve(path, { authorization: `Token ${tokenA}` });
      expect(r.status, path).toBe(303);
      expect(r.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    }
    const missing = await lambdaResolve(`/tasks/${id}/resolve/`, { authorization: `Token ${tokenA}` });
    expect(missing.status).toBe(400);
  });

  it('404s unmatched URIs, missing objects, and other organizations\u2019 tasks; a token of one task opens no other', async () => {
    const tokenA = await newTenantToken(orgA);
    const unmatched = await lambdaResolve(`/tasks/${id}/resolve/?fileuri=${encodeFileUri('s3://nobody-bucket/a.jpg')}`, { authorization: `Token ${tokenA}` });
    expect(unmatched.status).toBe(404);
    await patchStorage(s3, { presign: false });
    const gone = await lambdaResolve(`/tasks/${id}/resolve/?fileuri=${encodeFileUri(`s3://${S3_BUCKET}/missing.jpg`)}`, { authorization: `Token ${tokenA}` });
    expect(gone.status).toBe(404);
    await patchStorage(s3, { presign: true });

    const [foreign] = await addTasks(orgB, otherProjectId, [{ image: `s3://${S3_BUCKET}/img/a.jpg` }]);
    const { fileuri, token } = parseResolveUrl(url);
    const cross = await lambdaResolve(`/tasks/${foreign}/resolve/?fileuri=${fileuri}`, { authorization: `Token ${tokenA}` });
    expect(cross.status).toBe(404);
    expect((await browserFetch(`/tasks/${foreign}/resolve/?fileuri=${fileuri}&token=${token}`, { redirect: 'manual' })).status).toBe(403);
    expect((await other('GET', `/api/tasks/${id}`)).status).toBe(404);
  });

  it('serves project routes with Authorization or a project-bound token', async () => {
    const uri = `s3://${S3_BUCKET}/img/a.jpg`;
    const tokenA = await newTenantToken(orgA);
    const r = await lambdaResolve(`/projects/${projectId}/resolve/?fileuri=${encodeFileUri(uri)}`, { authorization: `Token ${tokenA}` });
    expect(r.status).toBe(303);
    const t = signMediaToken(key, { orgId: orgA, scope: 'project', id: projectId, uri }, 600);
    expect((await browserFetch(`/projects/${projectId}/presign/?fileuri=${encodeFileUri(uri)}&token=${t}`, { redirect: 'manual' })).status).toBe(303);
    expect((await browserFetch(`/projects/${otherProjectId}/resolve/?fileuri=${encodeFileUri(uri)}&token=${t}`, { redirect: 'manual' })).status).toBe(403);
    const tokenB = await newTenantToken(orgB);
    expect((await lambdaResolve(`/projects/${projectId}/resolve/?fileuri=${encodeFileUri(uri)}`, { authorization: `Token ${tokenB}` })).status).toBe(404);
  });
});

describe('store calls per request', () => {
  it('a presigned redirect calls the store not at all, a proxied GET or HEAD exactly once', async () => {
    const calls: string[] = [];
    const app = processApp();
    const original = app.getProvider;
    const counting = async (c: Parameters<typeof original>[0]) => {
      const p = await original(c);
      return new Proxy(p, {
        get(target, prop, recv) {
          const v = Reflect.get(target, prop, recv);
          if (typeof v !== 'function') return v;
          return (...args: unknown[]) => {
            calls.push(String(prop));
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    };
    patchApp({ getProvider: counting });
    try {
      const [id] = await addTasks(orgA, projectId, [{ image: `s3://${S3_BUCKET}/img/a.jpg` }]);
      const url = (await taskData(id)).image as string;
      expect(calls).toEqual([]); // rewriting a task is pure CPU
      expect((await browserFetch(url, { redirect: 'manual' })).status).toBe(303);
      expect(calls).toEqual(['presign']); // S3 presigning is local signing, no request
      await patchStorage(s3, { presign: false });
      calls.length = 0;
      const r = await browserFetch(url);
      await r.arrayBuffer();
      expect(calls).toEqual(['read']);
      calls.length = 0;
      await (await browserFetch(url, { method: 'HEAD' })).arrayBuffer();
      expect(calls).toEqual(['head']);
    } finally {
      installApp(app);
      await patchStorage(s3, { presign: true });
    }
  });
});

describe('s3s (IAM role)', () => {
  it('assumes the role once for many resolves, and its presigned URLs fetch the object', async () => {
    const ids = await addTasks(orgA, projectId, Array.from({ length: 5 }, () => ({ image: `s3://${S3S_BUCKET}/role/a.jpg` })));
    const before = stsCalls.length;
    for (const id of ids) {
      const r = await browserFetch((await taskData(id)).image as string);
      expect(r.status).toBe(200);
      expect(Buffer.from(await r.arrayBuffer())).toEqual(body('role/a.jpg'));
    }
    expect(stsCalls.length - before).toBe(1);
    expect(s3s.type).toBe('s3s');
  });
});

describe('inline presigned URLs', () => {
  it('puts a fetchable presigned URL straight into task data when the storage asks for it', async () => {
    await patchStorage(s3, { inline_presign: true });
    try {
      const [id] = await addTasks(orgA, projectId, [{ image: `s3://${S3_BUCKET}/odd/with space.jpg`, doc: `gs://${GCS_BUCKET}/g/file.pdf` }]);
      const d = await taskData(id);
      expect(d.image).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*X-Amz-Signature=/);
      const r = await fetch(d.image as string);
      expect(r.status).toBe(200);
      expect(Buffer.from(await r.arrayBuffer())).toEqual(body('odd/with space.jpg'));
      expect(parseResolveUrl(d.doc as string).path).toBe(`/tasks/${id}/resolve/`);
    } finally {
      await patchStorage(s3, { inline_presign: false });
    }
  });
});

const tokens = new Map<string, string>();
async function newTenantToken(orgId: string): Promise<string> {
  let t = tokens.get(orgId);
  if (!t) {
    const { mintToken } = await import('../../shared/api/tokens');
    t = await mintToken(processApp().db, orgId);
    tokens.set(orgId, t);
  }
  return t;
}
