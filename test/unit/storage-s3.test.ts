/**
 * S3 specifics on s3rver: SSE-KMS headers on writes, presigner reuse speed, unreachable
 * endpoints reported clearly.
 */
import { inject, describe, expect, it, beforeAll } from 'vitest';
import { StorageError } from '../../shared/errors';
import { getProvider } from '../../shared/storage/registry';
import type { S3Provider } from '../../shared/storage/providers/s3';
import { createS3Buckets, testSettings } from '../contract/helpers';

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

  it('reuses one presigner: 2,000 presigned URLs well under a second each hundred', async () => {
    const p = await getProvider(base, { settings: testSettings(), noCache: true });
    await p.presign('warm.txt', 60);
    const t = performance.now();
    for (let i = 0; i < 2000; i++) await p.presign(`k/${i} +%.txt`, 60);
    const ms = performance.now() - t;
    console.log(`S3 presign: ${(2000 / (ms / 1000)).toFixed(0)} URLs/s`);
    expect(ms).toBeLessThan(4000);
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
    expect((e as Error).message).toMatch(/^could not connect to Redis at 127.0.0.1:1 within 3 s$/);
    await p.close();
  });
});
