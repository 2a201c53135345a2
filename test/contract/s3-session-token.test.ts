/**
 * S3 contract with temporary credentials (access key + secret + session token). The session
 * token comes from moto's STS GetSessionToken when moto is present, else a fixed string.
 * Simulated part: s3rver only knows its own S3RVER key and ignores whether the token is valid;
 * it does verify the SigV4 signature, which covers the X-Amz-Security-Token header/query.
 */
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { inject } from 'vitest';
import type { StorageConfig } from '../../shared/storage/types';
import { runProviderContract } from './provider-contract';
import { cloudScoping, createS3Buckets, testSettings } from './helpers';

runProviderContract('s3 (session token)', async () => {
  const { s3, sts } = inject('emulators');
  await createS3Buckets(s3.endpoint, s3, s3.region, ['contract-s3', 'contract-s3-empty']);
  let token = 'static-session-token-used-because-moto-is-absent';
  if (sts) {
    const client = new STSClient({ endpoint: sts.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const out = await client.send(new GetSessionTokenCommand({ DurationSeconds: 900 }));
    token = out.Credentials!.SessionToken!;
    client.destroy();
  }
  const base: StorageConfig = {
    type: 's3',
    role: 'import',
    bucket: 'contract-s3',
    s3_endpoint: s3.endpoint,
    region_name: s3.region,
    aws_access_key_id: s3.accessKeyId,
    aws_secret_access_key: s3.secretAccessKey,
    aws_session_token: token,
  };
  return {
    base,
    ...cloudScoping(base),
    empty: { ...base, bucket: 'contract-s3-empty' },
    missing: { config: { ...base, bucket: 'contract-s3tok-missing' }, name: 'contract-s3tok-missing' },
    wrongCredentials: {
      config: { ...base, aws_access_key_id: 'ASIAWRONGWRONGWRONG2', aws_secret_access_key: 'wrong-secret-2', aws_session_token: 'wrong-token-2' },
      secrets: ['ASIAWRONGWRONGWRONG2', 'wrong-secret-2', 'wrong-token-2'],
    },
    options: { settings: testSettings() },
    presign: 'http',
    verifiesSignatures: true,
    hierarchical: true,
    placeholders: true,
    importNeedsObject: true,
  };
});
