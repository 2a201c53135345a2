/**
 * Assumed-role credentials: cached, refreshed before expiry, one AssumeRole for concurrent
 * callers. With moto present the AssumeRole calls go to moto's real STS API; without it a stub
 * STS client stands in (the test names which one ran). The tenancy rules of s3s (the
 * organization's external id always sent, another one refused, own-account roles refused unless
 * listed, the bucket/prefix session policy) are checked against a recording STS mock: what is
 * asserted is the request the service sends, which no emulator would show more faithfully.
 */
import { STSClient } from '@aws-sdk/client-sts';
import type { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { describe, expect, inject, it } from 'vitest';
import { StorageError, ValidationError } from '../../shared/errors';
import { parseEnv } from '../../shared/config/env';
import { ambientAllowed, DENY_ALL_TENANCY, type TenancyPolicy } from '../../shared/storage/tenancy';
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
      orgId: 'org-a',
    };
    const settings = { allowedEndpoints: ['127.0.0.1'], maxReadBytes: 1000, localFilesDocumentRoot: '/', connectTimeoutMs: 3000, requestTimeoutMs: 10000 };
    const p1 = (await getProvider(config, { storageId: 9, settings, hooks: { stsClient: client }, tenancy: tenancy() })) as S3Provider;
    const p2 = (await getProvider(config, { storageId: 9, settings, hooks: { stsClient: client }, tenancy: tenancy() })) as S3Provider;
    expect(p2).toBe(p1);
    await p1.presign('a.txt', 60);
    await p2.presign('b.txt', 60);
    expect(calls()).toBe(1);
    registry.clear();
  });
});

const EXTERNAL_IDS: Record<string, string> = { 'org-a': 'ext-of-a', 'org-b': 'ext-of-b' };
function tenancy(extra: Partial<TenancyPolicy> = {}): TenancyPolicy {
  return { ...DENY_ALL_TENANCY, externalIdOf: async (org) => EXTERNAL_IDS[org], ...extra };
}

/** STS mock (not moto: the assertions are on the request sent) recording every AssumeRole input. */
function recordingSts(): { client: StsLike; calls: AssumeRoleCommand['input'][] } {
  const calls: AssumeRoleCommand['input'][] = [];
  const client: StsLike = {
    async send(c: AssumeRoleCommand) {
      calls.push(c.input);
      return { Credentials: { AccessKeyId: 'ASIAX', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3600_000) } };
    },
  };
  return { client, calls };
}

describe('s3s tenancy (STS mocked: the AssumeRole request is what is checked)', () => {
  const { s3 } = inject('emulators');
  const settings = { allowedEndpoints: ['127.0.0.1'], maxReadBytes: 1000, localFilesDocumentRoot: '/', connectTimeoutMs: 3000, requestTimeoutMs: 10000 };
  const config = (extra: Record<string, unknown> = {}) => ({
    type: 's3s' as const, role: 'import' as const, bucket: 'tenant-bucket', prefix: 'team/a', s3_endpoint: s3.endpoint, role_arn: ROLE, orgId: 'org-a', ...extra,
  });
  const build = async (c: ReturnType<typeof config>, t = tenancy()) => {
    const sts = recordingSts();
    const p = (await getProvider(c, { noCache: true, settings, hooks: { stsClient: sts.client }, tenancy: t })) as S3Provider;
    await p.presign('team/a/x.json', 60); // resolves the credentials: one AssumeRole
    return sts.calls;
  };

  it("always sends the organization's external id, whatever the storage says (none, or the same)", async () => {
    expect((await build(config()))[0].ExternalId).toBe('ext-of-a');
    expect((await build(config({ external_id: 'ext-of-a' })))[0].ExternalId).toBe('ext-of-a');
    expect((await build(config({ orgId: 'org-b' })))[0].ExternalId).toBe('ext-of-b');
  });

  it('refuses a user external_id that differs from the organization\'s, naming external_id', async () => {
    const e = await build(config({ external_id: 'ext-of-b' })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect(Object.keys((e as ValidationError).fields)).toEqual(['external_id']);
  });

  it('refuses a storage without an organization (no external id to assume with)', async () => {
    const e = await build(config({ orgId: undefined })).catch((x: unknown) => x);
    expect((e as StorageError).code).toBe('access_denied');
  });

  it("refuses a role of the service's own account unless allow-listed, naming role_arn", async () => {
    const e = await build(config(), tenancy({ ownAccountId: '123456789012' })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect(Object.keys((e as ValidationError).fields)).toEqual(['role_arn']);
    expect(await build(config(), tenancy({ ownAccountId: '123456789012', assumableRoleArns: [ROLE] }))).toHaveLength(1);
    expect(await build(config(), tenancy({ ownAccountId: '999999999999' }))).toHaveLength(1);
  });

  it('gives the session a policy naming only the bucket and the prefix', async () => {
    const [call] = await build(config());
    const policy = JSON.parse(call.Policy!) as { Statement: { Action: string[]; Resource: string; Condition?: unknown }[] };
    expect(policy.Statement.map((s) => s.Resource).sort()).toEqual(['arn:aws:s3:::tenant-bucket', 'arn:aws:s3:::tenant-bucket/team/a/*']);
    const list = policy.Statement.find((s) => s.Action.includes('s3:ListBucket'))!;
    expect(list.Condition).toEqual({ StringLikeIfExists: { 's3:prefix': ['team/a/*'] } });
    const objects = policy.Statement.find((s) => s.Action.includes('s3:GetObject'))!;
    expect(objects.Action.sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
  });
});

describe('ambient grants (LABELSYNC_AMBIENT_GRANTS)', () => {
  const env = (v: string) => parseEnv({ LABELSYNC_TABLE: 't', LABELSYNC_AMBIENT_GRANTS: v });

  it('grants per organization, scheme, bucket and prefix; "*" organizations and buckets', () => {
    const g = env('{"org-a":["s3://shared/team-a","gs://media"],"*":["s3://public"],"local":["*"]}').ambientGrants;
    expect(ambientAllowed(g, 'org-a', 's3', 'shared', 'team-a/x')).toBe(true);
    expect(ambientAllowed(g, 'org-a', 's3', 'shared', 'team-ab')).toBe(false);
    expect(ambientAllowed(g, 'org-a', 's3', 'shared', '')).toBe(false);
    expect(ambientAllowed(g, 'org-a', 's3', 'media', '')).toBe(false);
    expect(ambientAllowed(g, 'org-a', 'gs', 'media', 'any/where')).toBe(true);
    expect(ambientAllowed(g, 'org-b', 's3', 'shared', 'team-a')).toBe(false);
    expect(ambientAllowed(g, 'org-b', 's3', 'public', '')).toBe(true);
    expect(ambientAllowed(g, undefined, 's3', 'shared', 'team-a')).toBe(false);
    expect(ambientAllowed(g, 'local', 'gs', 'anything', 'x')).toBe(true);
    expect(ambientAllowed({}, 'local', 's3', 'anything', '')).toBe(false);
  });

  it('names the variable for a malformed value', () => {
    for (const bad of ['nope', '["s3://x"]', '{"a":"s3://x"}', '{"a":["ftp://x"]}']) {
      expect(() => env(bad), bad).toThrow(/LABELSYNC_AMBIENT_GRANTS/);
    }
    expect(() => parseEnv({ LABELSYNC_TABLE: 't', LABELSYNC_ACCOUNT_ID: '12' })).toThrow(/LABELSYNC_ACCOUNT_ID/);
    expect(() => parseEnv({ LABELSYNC_TABLE: 't', LABELSYNC_ASSUMABLE_ROLE_ARNS: 'arn:aws:s3:::b' })).toThrow(/LABELSYNC_ASSUMABLE_ROLE_ARNS/);
    expect(() => parseEnv({ LABELSYNC_TABLE: 't', LABELSYNC_STS_ENDPOINT: 'moto' })).toThrow(/LABELSYNC_STS_ENDPOINT/);
  });
});
