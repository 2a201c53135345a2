/**
 * Which identity a storage's requests are signed with, per organization. A storage without keys
 * would sign with the service's own identity (the operator's credential chain locally, the Lambda
 * role in AWS), which every organization shares: that is allowed only for the buckets an operator
 * granted the organization (LABELSYNC_AMBIENT_GRANTS). An assumed role is always assumed with the
 * organization's server-generated external id, never a user-chosen one (confused deputy), is not
 * one of the service's own account's roles unless allow-listed, and gets a session policy limited
 * to the storage's bucket and prefix.
 */
import type { AmbientGrant, AmbientGrants } from '../config/parse-vars';
import { StorageError, ValidationError } from '../errors';
import { normalizePrefix } from './key-filter';

/** What the provider build needs to know about organizations (the app builds it from its env and table). */
export interface TenancyPolicy {
  ambientGrants: AmbientGrants;
  /** The service's own AWS account (LABELSYNC_ACCOUNT_ID); unset: no own-account rule. */
  ownAccountId?: string;
  /** Roles of the own account that may be assumed anyway (LABELSYNC_ASSUMABLE_ROLE_ARNS). */
  assumableRoleArns: readonly string[];
  /** The organization's external id (generated once, immutable). */
  externalIdOf(orgId: string): Promise<string>;
}

/** A policy that grants nothing: registries built without one (tests, tools) use no ambient identity. */
export const DENY_ALL_TENANCY: TenancyPolicy = {
  ambientGrants: {},
  assumableRoleArns: [],
  externalIdOf: async () => {
    throw new StorageError('access_denied', 'no organization external id is available to this storage registry');
  },
};

const grantCovers = (g: AmbientGrant, scheme: 's3' | 'gs', bucket: string, prefix: string): boolean =>
  (g.scheme === '*' || g.scheme === scheme) && (g.bucket === '*' || g.bucket === bucket) && prefix.startsWith(normalizePrefix(g.prefix));

/** True when `orgId` (or every organization, `*`) was granted ambient use of scheme://bucket/prefix. */
export function ambientAllowed(grants: AmbientGrants, orgId: string | undefined, scheme: 's3' | 'gs', bucket: string, prefix: string | null | undefined): boolean {
  const p = normalizePrefix(prefix);
  const of = (org: string) => (Object.hasOwn(grants, org) ? grants[org] : []);
  return [...(orgId ? of(orgId) : []), ...of('*')].some((g) => grantCovers(g, scheme, bucket, p));
}

/**
 * Refuses a keyless storage the operator did not grant its organization.
 * @throws ValidationError naming each of `credentialFields` (400)
 */
export function requireAmbientGrant(
  tenancy: TenancyPolicy,
  orgId: string | undefined,
  at: { scheme: 's3' | 'gs'; bucket: string; prefix: string | null | undefined },
  credentialFields: readonly string[],
): void {
  if (ambientAllowed(tenancy.ambientGrants, orgId, at.scheme, at.bucket, at.prefix)) return;
  const where = `${at.scheme}://${at.bucket}/${normalizePrefix(at.prefix)}`;
  const message = `Credentials are required: this organization may not use the service's own identity for ${where} (LABELSYNC_AMBIENT_GRANTS).`;
  throw new ValidationError(Object.fromEntries(credentialFields.map((f) => [f, [message]])));
}

/**
 * The external id an s3s storage of `orgId` is assumed with. A given `external_id` must equal it
 * (Label Studio clients echo it back); any other value is refused.
 * @throws ValidationError naming external_id; StorageError('access_denied') without an organization
 */
export async function externalIdFor(tenancy: TenancyPolicy, orgId: string | undefined, given: string | undefined): Promise<string> {
  if (!orgId) throw new StorageError('access_denied', 'an s3s storage needs an organization to assume its role');
  const own = await tenancy.externalIdOf(orgId);
  if (given && given !== own) {
    throw ValidationError.field('external_id', "external_id is set by the service: leave it empty or send this organization's external id (GET /api/organizations/current).");
  }
  return own;
}

/**
 * Refuses a role in the service's own account unless allow-listed: those roles trust the service
 * account itself, so a user naming one would borrow the deployment's permissions.
 * @throws ValidationError naming role_arn
 */
export function checkAssumableRole(tenancy: TenancyPolicy, roleArn: string): void {
  const account = roleArn.split(':')[4];
  if (!tenancy.ownAccountId || account !== tenancy.ownAccountId || tenancy.assumableRoleArns.includes(roleArn)) return;
  throw ValidationError.field('role_arn', `Roles of this service's own AWS account (${account}) can only be assumed when listed in LABELSYNC_ASSUMABLE_ROLE_ARNS.`);
}

/**
 * Session policy of an assumed role (the AssumeRole `Policy`): the effective permissions are the
 * intersection with the role's, so whatever the role allows, the session reaches only this bucket
 * and prefix. ListBucket's prefix condition is "IfExists" because HeadBucket (the bucket check)
 * is authorised as s3:ListBucket without any s3:prefix.
 */
export function sessionPolicy(roleArn: string, bucket: string, prefix: string | null | undefined): string {
  const partition = roleArn.split(':')[1] || 'aws';
  const p = normalizePrefix(prefix);
  const bucketArn = `arn:${partition}:s3:::${bucket}`;
  const list: Record<string, unknown> = { Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: bucketArn };
  if (p) list.Condition = { StringLikeIfExists: { 's3:prefix': [`${p}*`] } };
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [list, { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: `${bucketArn}/${p}*` }],
  });
}
