/**
 * What `s3` and `s3s` share: fields, bucket rules, location and provider construction. `s3s`
 * adds an assumed role on top of the same client.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { requireAmbientGrant } from '../tenancy';
import type { StorageConfig, StorageProvider } from '../types';
import { CLOUD_FIELDS, prefixedExportKeys, shortField } from './common-fields';
import type { AddFieldError, BackendDefinition, BuildContext, FieldTable } from './definition';
import { checkHttpUrl, str, text } from './values';

/** Fields of `s3` (and the head of `s3s`'s). */
export const S3_FIELDS: FieldTable = {
  ...CLOUD_FIELDS,
  bucket: shortField({ required: true, connection: true }),
  region_name: shortField({ connection: true }),
  s3_endpoint: shortField({ connection: true }),
  aws_sse_kms_key_id: shortField(),
  aws_access_key_id: shortField({ secret: true }),
  aws_secret_access_key: shortField({ secret: true }),
  aws_session_token: shortField({ secret: true }),
};

/** S3 bucket naming rules (3–63 chars, lower-case letters, digits, dots, hyphens; no IP form). */
function s3BucketProblem(b: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b) || b.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(b)) {
    return `Invalid bucket name "${b}": use 3-63 lower-case letters, digits, dots and hyphens.`;
  }
  return undefined;
}

/** Shape rules of both S3 types; `requireRole` adds s3s's required role_arn in its place. */
export function s3ShapeErrors(config: StorageConfig, add: AddFieldError, requireRole: boolean): void {
  const bucket = str(config.bucket);
  if (!bucket) add('bucket', 'This field is required.');
  else {
    const p = s3BucketProblem(bucket);
    if (p) add('bucket', p);
  }
  const id = str(config.aws_access_key_id);
  const secret = str(config.aws_secret_access_key);
  const pairMsg = 'Access Key ID and Secret Access Key must be provided together.';
  if (id && !secret) add('aws_secret_access_key', pairMsg);
  if (secret && !id) add('aws_access_key_id', pairMsg);
  if (requireRole && !str(config.role_arn)) add('role_arn', 'This field is required.');
  if (str(config.role_arn) && !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(str(config.role_arn)!)) {
    add('role_arn', 'role_arn must look like arn:aws:iam::<account id>:role/<name>');
  }
  checkHttpUrl(config.s3_endpoint, 's3_endpoint', add);
}

/** Static keys of a config, when given. */
export function staticCredentials(config: StorageConfig): AwsCredentialIdentity | undefined {
  const id = str(config.aws_access_key_id);
  return id ? { accessKeyId: id, secretAccessKey: str(config.aws_secret_access_key)!, sessionToken: str(config.aws_session_token) } : undefined;
}

/** Region of a config (us-east-1 when unset, as the SDK's global endpoint). */
export const regionOf = (config: StorageConfig): string => str(config.region_name) ?? 'us-east-1';

/** The key fields a keyless S3 storage is told to fill in. */
export const S3_CREDENTIAL_FIELDS = ['aws_access_key_id', 'aws_secret_access_key'];

/**
 * Builds the S3 provider; `credentials` overrides the static keys (s3s's assumed role). Without
 * either, the SDK's default chain (the service's own identity) signs: only under a grant.
 * @throws ValidationError naming the key fields when the organization has no grant for the bucket
 */
export async function buildS3Provider(
  config: StorageConfig,
  ctx: BuildContext,
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider,
): Promise<StorageProvider> {
  const { S3Provider } = await import('../providers/s3');
  const { endpoint, lookup } = await ctx.pinnedEndpoint(config.s3_endpoint, 's3_endpoint');
  if (!credentials && !staticCredentials(config)) {
    requireAmbientGrant(ctx.tenancy, config.orgId, { scheme: 's3', bucket: str(config.bucket)!, prefix: config.prefix }, S3_CREDENTIAL_FIELDS);
  }
  return new S3Provider({
    ...ctx.common,
    type: config.type as 's3' | 's3s',
    bucket: str(config.bucket)!,
    prefix: config.prefix,
    region: regionOf(config),
    endpoint,
    credentials: credentials ?? staticCredentials(config),
    sseKmsKeyId: str(config.aws_sse_kms_key_id),
    lookup,
  });
}

/** The parts of an S3 definition both S3 types share. */
export const S3_COMMON = {
  uriFor: (config: StorageConfig, key: string) => `s3://${config.bucket}/${key}`,
  exportKeyPrefix: prefixedExportKeys,
  resolves: { schemes: ['s3'], bucketField: 'bucket' },
  location: { family: 's3', place: (f) => text(f.bucket), endpoint: (f) => text(f.s3_endpoint) },
  capabilities: { orderedListing: true, presign: true, eventSync: 'managed' },
} satisfies Partial<BackendDefinition>;

