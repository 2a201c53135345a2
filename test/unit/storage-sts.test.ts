/**
 * Assumed-role credentials: cached, refreshed before expiry, one AssumeRole for concurrent
 * callers. With moto present the AssumeRole calls go to moto's real STS API; without it a stub
 * STS client stands in (the test names which one ran).
 */
import { STSClient } from '@aws-sdk/client-sts';
import type { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { describe, expect, inject, it } from 'vitest';
import { StorageError } from '../../shared/errors';
import { assumeRoleProvider, roleSessionName, type StsLike } from '../../shared/storage/sts';
import { testRegistry } from '../contract/helpers';
import type { S3Provider } from '../../shared/storage/providers/s3';
const registry = testRegistry();
const getProvider = registry.getProvider;

const sts = inject('emulators').sts;
const ROLE = 'arn:aws:iam::123456789012:role/labelsync-reader';

function stsClient(): { client: StsLike; calls: () => number; kind: string } {
  if (sts) {
    const real = new STSClient({ endpoint: sts.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'base', secretAccessKey: 'base' } });
    let n = 0;
    return {
      client: { send: (c: AssumeRoleCommand) => (n++, real.send(c)) },
      calls: () => n,
      kind: 'moto STS',
    };
  }
  let n = 0;
  return {
    client: {
      async send(c: AssumeRoleCommand) {
        n++;
        return {
          Credentials: {
            AccessKeyId: `ASIA${n}`,
            SecretAccessKey: 's',
            SessionToken: 't',
            Expiration: new Date(Date.now() + (c.input.DurationSeconds ?? 3600) * 1000),
          },
        };
      },
    },
    calls: () => n,
    kind: 'stub STS (moto absent)',
  };
}

describe(`assumed-role credentials (${sts ? 'moto STS' : 'stub STS: moto absent'})`, () => {
  it('assumes the role once, reuses the credentials, and refreshes them when close to expiry', async () => {
    const { client, calls } = stsClient();
    let clock = Date.now();
    const provider = assumeRoleProvider({ sts: client, roleArn: ROLE, externalId: 'ext', sessionName: 'labelsync-7', durationSeconds: 900, now: () => clock });
    const [a, b] = await Promise.all([provider(), provider()]);
    expect(calls()).toBe(1);
    expect(a).toBe(b);
    expect(a.sessionToken).toBeTruthy();
    expect(a.expiration!.getTime()).toBeGreaterThan(Date.now());
    clock += 5 * 60_000; // 10 min left of 15: still fresh
    await provider();
    expect(calls()).toBe(1);
    clock += 6 * 60_000; // 4 min left, inside the 5 min refresh margin
    const c = await provider();
    expect(calls()).toBe(2);
    expect(provider.assumeCount()).toBe(2);
    expect(c).not.toBe(a);
  });

  it('maps an STS refusal to access_denied without the external id', async () => {
    const client: StsLike = {
      async send() {
        throw Object.assign(new Error('not authorized'), { name: 'AccessDenied' });
      },
    };
    const provider = assumeRoleProvider({ sts: client, roleArn: ROLE, externalId: 'secret-ext', sessionName: 's' });
    const e = await provider().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).code).toBe('access_denied');
    expect((e as Error).message).not.toContain('secret-ext');
  });

  it('names the session after the storage id within AWS limits', () => {
    expect(roleSessionName(42)).toBe('labelsync-42');
    expect(roleSessionName('a b/c')).toBe('labelsync-a-b-c');
    expect(roleSessionName('x'.repeat(100)).length).toBe(64);
  });

  it('registry caches s3s providers so the role is assumed once per expiry, not per call', async () => {
    registry.clear();
    const { client, calls } = stsClient();
    const { s3 } = inject('emulators');
    const config = {
      type: 's3s' as const,
      role: 'import' as const,
      bucket: 'contract-sts-cache',
      s3_endpoint: s3.endpoint,
      role_arn: ROLE,
      external_id: 'ext',
    };
    const settings = { allowedEndpoints: ['127.0.0.1'], maxReadBytes: 1000, localFilesDocumentRoot: '/', connectTimeoutMs: 3000, requestTimeoutMs: 10000 };
    const p1 = (await getProvider(config, { storageId: 9, settings, hooks: { stsClient: client } })) as S3Provider;
    const p2 = (await getProvider(config, { storageId: 9, settings, hooks: { stsClient: client } })) as S3Provider;
    expect(p2).toBe(p1);
    await p1.presign('a.txt', 60);
    await p2.presign('b.txt', 60);
    expect(calls()).toBe(1);
    registry.clear();
  });
});
