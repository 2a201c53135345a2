/**
 * S3 provider contract on s3rver (real SigV4 checks, including presigned URL signature and
 * expiry) with static access keys.
 */
import { inject } from 'vitest';
import type { StorageConfig } from '../../shared/storage/types';
import { runProviderContract } from './provider-contract';
import { cloudScoping, createS3Buckets, testSettings } from './helpers';

runProviderContract('s3 (access keys)', async () => {
  const s3 = inject('emulators').s3;
  await createS3Buckets(s3.endpoint, s3, s3.region, ['contract-s3', 'contract-s3-empty']);
  const base: StorageConfig = {
    type: 's3',
    role: 'import',
    bucket: 'contract-s3',
    s3_endpoint: s3.endpoint,
    region_name: s3.region,
    aws_access_key_id: s3.accessKeyId,
    aws_secret_access_key: s3.secretAccessKey,
  };
  return {
    base,
    ...cloudScoping(base),
    empty: { ...base, bucket: 'contract-s3-empty' },
    missing: { config: { ...base, bucket: 'contract-s3-missing' }, name: 'contract-s3-missing' },
    wrongCredentials: {
      config: { ...base, aws_access_key_id: 'AKIAWRONGWRONGWRONG1', aws_secret_access_key: 'wrong-secret-do-not-leak' },
      secrets: ['AKIAWRONGWRONGWRONG1', 'wrong-secret-do-not-leak'],
    },
    options: { settings: testSettings() },
    presign: 'http',
    verifiesSignatures: true,
    hierarchical: true,
    placeholders: true,
    importNeedsObject: true,
  };
});
