/**
 * `s3s` (IAM role) contract: the provider assumes `role_arn` with the organization's external id
 * (from the tenancy policy, here a fixed one) and a session policy naming only the storage's
 * bucket and prefix through STS AssumeRole, and signs every S3 request and presigned URL with the
 * assumed credentials.
 * - moto present: real AssumeRole against moto's STS, and the S3 calls go to moto's S3 on the same
 *   server (s3rver only accepts its own S3RVER key, so it cannot take assumed credentials).
 *   Simulated part: moto does not verify signatures, so altered/expired URLs are not checked here
 *   (they are on s3rver in s3.test.ts and s3-session-token.test.ts).
 * - moto absent: a stub STS client answers S3RVER credentials with a session token and the
 *   contract runs on s3rver (signatures checked).
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { expect, inject } from 'vitest';
import type { StorageConfig } from '../../shared/storage/types';
import type { StsLike } from '../../shared/storage/sts';
import { DENY_ALL_TENANCY, type TenancyPolicy } from '../../shared/storage/tenancy';
import { runProviderContract } from './provider-contract';
import { cloudScoping, createS3Buckets, testSettings } from './helpers';

const { s3, sts } = inject('emulators');

runProviderContract(sts ? 's3s (role assumed via moto STS, S3 on moto)' : 's3s (stubbed STS: moto absent, S3 on s3rver)', async () => {
  const endpoint = sts ? sts.endpoint : s3.endpoint;
  const baseKeys = sts ? { accessKeyId: 'base-key', secretAccessKey: 'base-secret' } : s3;
  await createS3Buckets(endpoint, baseKeys, 'us-east-1', ['contract-s3s', 'contract-s3s-empty']);
  const calls: AssumeRoleCommand['input'][] = [];
  let stsClient: StsLike;
  if (sts) {
    // The real STS client on moto, wrapped only to record the calls.
    const real = new STSClient({ endpoint: sts.endpoint, region: 'us-east-1', credentials: baseKeys });
    stsClient = {
      async send(cmd: AssumeRoleCommand) {
        calls.push(cmd.input);
        const out = await real.send(cmd);
        expect(out.Credentials?.AccessKeyId).not.toBe('base-key'); // temporary credentials from moto
        return out;
      },
    };
  } else {
    stsClient = {
      async send(cmd: AssumeRoleCommand) {
        calls.push(cmd.input);
        if (cmd.input.RoleArn?.endsWith('/denied')) {
          throw Object.assign(new Error('User is not authorized to perform sts:AssumeRole'), { name: 'AccessDenied' });
        }
        return {
          Credentials: { AccessKeyId: s3.accessKeyId, SecretAccessKey: s3.secretAccessKey, SessionToken: 'stub-session-token', Expiration: new Date(Date.now() + 3600_000) },
        };
      },
    };
  }
  const base: StorageConfig = {
    type: 's3s',
    role: 'import',
    bucket: 'contract-s3s',
    s3_endpoint: endpoint,
    region_name: 'us-east-1',
    role_arn: 'arn:aws:iam::123456789012:role/labelsync-reader',
    orgId: 'contract-org',
    // Base credentials that call STS (in AWS: usually none, the Lambda role).
    ...(sts ? { aws_access_key_id: 'base-key', aws_secret_access_key: 'base-secret' } : {}),
  };
  const hooks = { stsClient };
  const tenancy: TenancyPolicy = { ...DENY_ALL_TENANCY, externalIdOf: async (org) => (org === 'contract-org' ? 'org-external-id' : 'other') };
  return {
    base,
    ...cloudScoping(base),
    empty: { ...base, bucket: 'contract-s3s-empty' },
    missing: { config: { ...base, bucket: 'contract-s3s-missing' }, name: 'contract-s3s-missing' },
    // moto accepts any role and any signature, so only the stub can refuse credentials.
    wrongCredentials: sts
      ? undefined
      : { config: { ...base, role_arn: 'arn:aws:iam::123456789012:role/denied' }, secrets: ['org-external-id', s3.secretAccessKey] },
    options: { settings: testSettings(), storageId: 42, hooks, tenancy },
    // moto's S3 (one Python process) stores and lists slowly under load: page through fewer objects
    // in smaller pages there (same paging code; 1,000-entry pages are checked on s3rver in s3.test.ts).
    ...(sts ? { bulk: { count: 250, pageSize: 100 } } : {}),
    presign: 'http',
    verifiesSignatures: !sts,
    notApplicable: {
      wrongCredentials: 'moto accepts any role and any signature, so only the STS stub can refuse credentials',
      presignRefusal: 'moto does not verify presigned URL signatures or expiry',
    },
    hierarchical: true,
    placeholders: true,
    importNeedsObject: true,
    async cleanup() {
      expect(calls.length).toBeGreaterThan(0);
      for (const c of calls) {
        expect(c.RoleSessionName).toBe('labelsync-42');
        expect(c.ExternalId).toBe('org-external-id');
        const resources = (JSON.parse(c.Policy!) as { Statement: { Resource: string }[] }).Statement.map((st) => st.Resource);
        for (const r of resources) expect(r).toMatch(/^arn:aws:s3:::contract-s3s(-empty|-missing)?(\/|$)/);
      }
    },
  };
});
