/**
 * `s3s` (IAM role) contract. Real: the provider assumes `role_arn` with `external_id` through
 * STS AssumeRole and signs every S3 request and presigned URL with the assumed credentials.
 * Simulated: s3rver accepts only its own S3RVER key, so the STS client is a stub that records
 * the AssumeRole call and answers S3RVER credentials with a session token (moto's real
 * AssumeRole, whose keys s3rver would refuse, is exercised in test/unit/storage-sts.test.ts).
 */
import type { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { expect, inject } from 'vitest';
import type { StorageConfig } from '../../shared/storage/types';
import { runProviderContract } from './provider-contract';
import { cloudScoping, createS3Buckets, testSettings } from './helpers';

runProviderContract('s3s (assumed role, stubbed STS)', async () => {
  const { s3 } = inject('emulators');
  await createS3Buckets(s3.endpoint, s3, s3.region, ['contract-s3', 'contract-s3-empty']);
  const calls: AssumeRoleCommand['input'][] = [];
  const stsClient = {
    async send(cmd: AssumeRoleCommand) {
      calls.push(cmd.input);
      if (cmd.input.RoleArn?.endsWith('/denied')) {
        throw Object.assign(new Error('User is not authorized to perform sts:AssumeRole'), { name: 'AccessDenied' });
      }
      return {
        Credentials: {
          AccessKeyId: s3.accessKeyId,
          SecretAccessKey: s3.secretAccessKey,
          SessionToken: 'stub-session-token',
          Expiration: new Date(Date.now() + 3600_000),
        },
      };
    },
  };
  const base: StorageConfig = {
    type: 's3s',
    role: 'import',
    bucket: 'contract-s3',
    s3_endpoint: s3.endpoint,
    region_name: s3.region,
    role_arn: 'arn:aws:iam::123456789012:role/labelsync-reader',
    external_id: 'org-external-id',
  };
  return {
    base,
    ...cloudScoping(base),
    empty: { ...base, bucket: 'contract-s3-empty' },
    missing: { config: { ...base, bucket: 'contract-s3s-missing' }, name: 'contract-s3s-missing' },
    wrongCredentials: {
      config: { ...base, role_arn: 'arn:aws:iam::123456789012:role/denied', external_id: 'secret-external-id' },
      secrets: ['secret-external-id', s3.secretAccessKey],
    },
    options: { settings: testSettings(), storageId: 42, hooks: { stsClient } },
    presign: 'http',
    verifiesSignatures: true,
    hierarchical: true,
    placeholders: true,
    importNeedsObject: true,
    async cleanup() {
      // Every provider assumed the role with the storage's session name and external id.
      expect(calls.length).toBeGreaterThan(0);
      for (const c of calls) {
        expect(c.RoleSessionName).toBe('labelsync-42');
        if (c.RoleArn?.endsWith('labelsync-reader')) expect(c.ExternalId).toBe('org-external-id');
      }
    },
  };
});
