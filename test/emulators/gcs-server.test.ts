import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Storage, type File } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, inject, test, vi } from 'vitest';

// The GCS fake under test is the one the global setup started; everything goes through the real SDK.
const emulators = inject('emulators');
const storage = new Storage({
  apiEndpoint: emulators.gcs.apiEndpoint,
  projectId: emulators.gcs.projectId,
  credentials: emulators.gcsCredentials,
  // No useAuthWithCustomEndpoint: the SDK's JWT client (gtoken 7.1) ignores token_uri and would
  // call www.googleapis.com. The token endpoint is exercised directly below.
  retryOptions: { maxRetries: 0 },
});
const bucketName = `gcs-emu-${crypto.randomBytes(4).toString('hex')}`;
const bucket = storage.bucket(bucketName);

const errorCode = async (p: Promise<unknown>): Promise<number | undefined> => {
  try {
    await p;
  } catch (e) {
    return (e as { code?: number }).code;
  }
  return undefined;
};

beforeAll(async () => {
  await storage.createBucket(bucketName);
});

afterAll(async () => {
  const [files] = await bucket.getFiles();
  await Promise.all(files.map((f) => f.delete()));
  await bucket.delete();
});

describe('GCS emulator through @google-cloud/storage', () => {
  test('bucket get/list see the created bucket, creating it twice is a 409, a missing one is 404', async () => {
    const [exists] = await bucket.exists();
    expect(exists).toBe(true);
    const [buckets] = await storage.getBuckets();
    expect(buckets.map((b) => b.name)).toContain(bucketName);
    expect(await errorCode(storage.createBucket(bucketName))).toBe(409);
    expect(await errorCode(storage.bucket(`${bucketName}-missing`).getMetadata())).toBe(404);
  });

  test('a small multipart upload stores bytes, content type, custom metadata and correct hashes', async () => {
    const body = Buffer.from('hello gcs emulator');
    const file = bucket.file('small/hello.txt');
    await file.save(body, { resumable: false, contentType: 'text/plain', metadata: { metadata: { origin: 'test' } } });
    const [meta] = await file.getMetadata();
    expect(meta.size).toBe(String(body.length));
    expect(meta.contentType).toBe('text/plain');
    expect(meta.metadata).toEqual({ origin: 'test' });
    expect(meta.md5Hash).toBe(crypto.createHash('md5').update(body).digest('base64'));
    // The SDK validates crc32c on download: a wrong hash would make this throw.
    const [downloaded] = await file.download();
    expect(downloaded.equals(body)).toBe(true);
  });

  test('a multi-chunk resumable upload reassembles the object exactly', async () => {
    const body = crypto.randomBytes(700 * 1024);
    const file = bucket.file('big/random.bin');
    await pipeline(
      Readable.from([body.subarray(0, 300_000), body.subarray(300_000)]),
      file.createWriteStream({ resumable: true, chunkSize: 256 * 1024, contentType: 'application/octet-stream' }),
    );
    const [meta] = await file.getMetadata();
    expect(meta.size).toBe(String(body.length));
    const [downloaded] = await file.download();
    expect(crypto.createHash('sha256').update(downloaded).digest('hex')).toBe(
      crypto.createHash('sha256').update(body).digest('hex'),
    );
  });

  test('a single-request resumable upload of unknown length completes', async () => {
    const body = Buffer.from('streamed without a known length');
    const file = bucket.file('big/stream.txt');
    await pipeline(Readable.from([body]), file.createWriteStream({ resumable: true }));
    const [downloaded] = await file.download();
    expect(downloaded.toString()).toBe(body.toString());
  });

  test('ranged download returns exactly the requested bytes', async () => {
    const file = bucket.file('range/digits.txt');
    await file.save('0123456789', { resumable: false });
    const [part] = await file.download({ start: 3, end: 6 });
    expect(part.toString()).toBe('3456');
  });

  test('listing honours prefix and delimiter and pages through more than one page', async () => {
    const names = ['list/a.json', 'list/b.json', 'list/c.json', 'list/d.json', 'list/e.json', 'list/sub1/x.json', 'list/sub2/y.json'];
    await Promise.all(names.map((n) => bucket.file(n).save(`{"n":"${n}"}`, { resumable: false })));

    const seenFiles: string[] = [];
    const seenPrefixes: string[] = [];
    let query: Record<string, unknown> | null = { prefix: 'list/', delimiter: '/', maxResults: 2, autoPaginate: false };
    let pages = 0;
    while (query) {
      const [files, next, raw] = (await bucket.getFiles(query)) as unknown as [File[], Record<string, unknown> | null, { prefixes?: string[] }];
      pages++;
      seenFiles.push(...files.map((f) => f.name));
      seenPrefixes.push(...(raw?.prefixes ?? []));
      query = next;
    }
    expect(pages).toBe(4);
    expect(seenFiles).toEqual(names.slice(0, 5));
    expect(seenPrefixes).toEqual(['list/sub1/', 'list/sub2/']);

    const [all] = await bucket.getFiles({ prefix: 'list/' });
    expect(all.map((f) => f.name)).toEqual(names);
    const [fromOffset] = await bucket.getFiles({ prefix: 'list/', startOffset: 'list/d' });
    expect(fromOffset.map((f) => f.name)).toEqual(names.slice(3));
  });

  test('deleted objects are gone and a missing object is a 404', async () => {
    const file = bucket.file('gone/soon.txt');
    await file.save('x', { resumable: false });
    await file.delete();
    const [exists] = await file.exists();
    expect(exists).toBe(false);
    expect(await errorCode(file.download())).toBe(404);
  });

  test('deleting a non-empty bucket is refused with 409', async () => {
    const name = `${bucketName}-full`;
    await storage.createBucket(name);
    await storage.bucket(name).file('k').save('v', { resumable: false });
    expect(await errorCode(storage.bucket(name).delete())).toBe(409);
    await storage.bucket(name).file('k').delete();
    await storage.bucket(name).delete();
  });
});

describe('GCS emulator OAuth token endpoint', () => {
  const jwtAssertion = (privateKey: string) => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc({
      iss: emulators.gcsCredentials.client_email,
      scope: 'https://www.googleapis.com/auth/devstorage.full_control',
      aud: emulators.gcsCredentials.token_uri,
      iat: now,
      exp: now + 3600,
    })}`;
    return `${unsigned}.${crypto.sign('RSA-SHA256', Buffer.from(unsigned), privateKey).toString('base64url')}`;
  };
  const tokenFor = (assertion: string) =>
    fetch(emulators.gcsCredentials.token_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
    });

  test('a JWT signed with the service-account key gets a bearer token the JSON API accepts', async () => {
    const res = await tokenFor(jwtAssertion(emulators.gcsCredentials.private_key));
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    const api = await fetch(`${emulators.gcs.apiEndpoint}/storage/v1/b/${bucketName}`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(api.status).toBe(200);
    expect(((await api.json()) as { name: string }).name).toBe(bucketName);
  });

  test('a JWT signed with another key gets no token, and an unknown bearer token is a 401', async () => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const res = await tokenFor(jwtAssertion(other));
    expect(res.status).toBe(400);
    await res.arrayBuffer();
    const api = await fetch(`${emulators.gcs.apiEndpoint}/storage/v1/b/${bucketName}`, {
      headers: { authorization: 'Bearer made-up' },
    });
    expect(api.status).toBe(401);
    expect(((await api.json()) as { error: { code: number } }).error.code).toBe(401);
  });
});

describe('GCS emulator V4 signed URLs', () => {
  const objectName = 'signed/some file (1).txt';
  const content = 'signed content';

  beforeAll(async () => {
    await bucket.file(objectName).save(content, { resumable: false, contentType: 'text/plain' });
  });

  const sign = async (expires: number) =>
    (await bucket.file(objectName).getSignedUrl({ version: 'v4', action: 'read', expires }))[0];

  test('the SDK signs URLs on the apiEndpoint host, and fetching one returns the object bytes', async () => {
    const url = await sign(Date.now() + 5 * 60_000);
    expect(url.startsWith(`${emulators.gcs.apiEndpoint}/${bucketName}/`)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(content);
  });

  test('a signed URL honours Range', async () => {
    const res = await fetch(await sign(Date.now() + 60_000), { headers: { range: 'bytes=0-5' } });
    expect(res.status).toBe(206);
    expect(await res.text()).toBe('signed');
  });

  test('tampered signed URLs are refused with 403', async () => {
    const url = new URL(await sign(Date.now() + 60_000));
    const sig = url.searchParams.get('X-Goog-Signature')!;

    const flipped = new URL(url);
    flipped.searchParams.set('X-Goog-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    const longer = new URL(url);
    longer.searchParams.set('X-Goog-Expires', '604800');
    const otherObject = new URL(url);
    otherObject.pathname = `/${bucketName}/signed/other.txt`;

    for (const u of [flipped, longer, otherObject]) {
      const res = await fetch(u);
      expect(res.status, u.toString()).toBe(403);
      await res.arrayBuffer();
    }
  });

  test('an expired signed URL is refused with 403', async () => {
    // Sign "an hour ago" with a one-minute lifetime: the SDK refuses to sign past expiries directly.
    vi.useFakeTimers({ toFake: ['Date'] });
    let url: string;
    try {
      vi.setSystemTime(Date.now() - 60 * 60_000);
      url = await sign(Date.now() + 60_000);
    } finally {
      vi.useRealTimers();
    }
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/expired/);
  });
});
