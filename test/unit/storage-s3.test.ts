/**
 * S3 specifics on s3rver: SSE-KMS headers on writes, presigner reuse, unreachable endpoints
 * reported clearly.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { inject, describe, expect, it, beforeAll } from 'vitest';
import { StorageError } from '../../shared/errors';
import type { S3Provider } from '../../shared/storage/providers/s3';
import { createS3Buckets, testSettings, testRegistry } from '../contract/helpers';
const { getProvider } = testRegistry();

const s3 = inject('emulators').s3;
const base = {
  type: 's3' as const,
  role: 'export' as const,
  bucket: 'unit-s3',
  s3_endpoint: s3.endpoint,
  region_name: s3.region,
  aws_access_key_id: s3.accessKeyId,
  aws_secret_access_key: s3.secretAccessKey,
};

beforeAll(async () => {
  await createS3Buckets(s3.endpoint, s3, s3.region, ['unit-s3']);
});

describe('S3 provider', () => {
  it('writes with SSE aws:kms and the configured key id', async () => {
    const p = (await getProvider({ ...base, aws_sse_kms_key_id: 'arn:aws:kms:us-east-1:123456789012:key/abc' }, { settings: testSettings(), noCache: true })) as S3Provider;
    const seen: Record<string, string>[] = [];
    p.client.middlewareStack.add(
      (next) => async (args) => {
        seen.push({ ...((args as { request: { headers: Record<string, string> } }).request.headers) });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'capture' },
    );
    await p.write('kms/a.json', '{}');
    expect(seen[0]['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(seen[0]['x-amz-server-side-encryption-aws-kms-key-id']).toBe('arn:aws:kms:us-east-1:123456789012:key/abc');
    await p.close();
  });

  // Its speed against getSignedUrl is a bench target (bench/storage.ts), not a test assertion.
  it('reuses one presigner whose URLs match getSignedUrl', async () => {
    const p = (await getProvider(base, { settings: testSettings(), noCache: true })) as S3Provider;
    const cmd = (k: string) => new GetObjectCommand({ Bucket: 'unit-s3', Key: k });
    // Same origin and path as the SDK's own URL (path-style, key encoded once), on every reuse.
    const path = (u: string) => u.split('?')[0];
    for (const key of ['a b+c%.txt', 'k/0/1.txt', 'k/0/2.txt']) {
      const ours = await p.presign(key, 60);
      expect(path(ours)).toBe(path(await getSignedUrl(p.client, cmd(key), { expiresIn: 60 })));
      expect(new URL(ours).searchParams.get('X-Amz-Expires')).toBe('60');
    }
    await p.close();
  });

  it('reports a closed endpoint as unreachable with the endpoint and timeout, without secrets', async () => {
    const p = await getProvider({ ...base, s3_endpoint: 'http://127.0.0.1:1' }, { settings: testSettings(), noCache: true });
    const e = await p.validate('import').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).code).toBe('unreachable');
    expect((e as Error).message).toBe('could not connect to endpoint http://127.0.0.1:1 within 3 s');
    await p.close();
  });

  it('reports a closed Redis port as unreachable', async () => {
    const p = await getProvider({ type: 'redis', role: 'import', host: '127.0.0.1', port: 1, password: 'pw-not-shown' }, { settings: testSettings(), noCache: true });
    const e = await p.validate('import').catch((x: unknown) => x);
    expect((e as StorageError).code).toBe('unreachable');
    expect((e as Error).message).toMatch(/^Can't connect to Redis server\. \(could not connect to Redis at 127.0.0.1:1 within 3 s\)$/);
    await p.close();
  });
});
