/**
 * Assumed-role credentials for `s3s` storages: STS AssumeRole with the storage's role_arn, the
 * organization's external id and a session policy (see ./tenancy.ts), cached and refreshed
 * before they expire, so a role is assumed once per credential lifetime (not per request) and
 * concurrent callers share one refresh.
 */
import { AssumeRoleCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { instrumented } from '../aws/instrument';
import { StorageError } from '../errors';

/** The part of STSClient we use (tests inject their own). */
export interface StsLike {
  send(command: AssumeRoleCommand): Promise<{ Credentials?: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date } }>;
}

export interface AssumeRoleOptions {
  sts: StsLike;
  roleArn: string;
  /** Always sent: the customer's trust policy conditions on it (sts:ExternalId). */
  externalId: string;
  /** Session policy JSON narrowing the role's permissions. */
  policy?: string;
  /** e.g. `labelsync-<storage id>` (AWS allows [\w+=,.@-]{2,64}). */
  sessionName: string;
  /** Default 3600 s. */
  durationSeconds?: number;
  /** Refresh this long before expiry (default 5 min). */
  refreshMarginMs?: number;
  /** Clock (tests use a fake one). */
  now?: () => number;
}

/** Sanitises a role session name to AWS's alphabet and length. */
export function roleSessionName(storageId: number | string | undefined): string {
  const raw = `labelsync-${storageId ?? 'validate'}`.replace(/[^\w+=,.@-]/g, '-');
  return raw.slice(0, 64);
}

/**
 * A credential provider (for S3Client/S3RequestPresigner) that assumes the role on first use and
 * again when the cached credentials are within `refreshMarginMs` of expiry.
 * @throws StorageError('access_denied') when STS refuses, StorageError('unreachable') on network failure.
 */
export function assumeRoleProvider(o: AssumeRoleOptions): AwsCredentialIdentityProvider & { assumeCount(): number } {
  const now = o.now ?? Date.now;
  const margin = o.refreshMarginMs ?? 5 * 60_000;
  let cached: AwsCredentialIdentity | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;
  let count = 0;
  const fresh = (c: AwsCredentialIdentity | undefined): c is AwsCredentialIdentity =>
    !!c && (!c.expiration || c.expiration.getTime() - margin > now());
  const assume = async (): Promise<AwsCredentialIdentity> => {
    count++;
    let out;
    try {
      out = await o.sts.send(
        new AssumeRoleCommand({
          RoleArn: o.roleArn,
          RoleSessionName: o.sessionName,
          ExternalId: o.externalId,
          Policy: o.policy,
          DurationSeconds: o.durationSeconds ?? 3600,
        }),
      );
    } catch (e) {
      const name = (e as { name?: string }).name ?? '';
      if (/AccessDenied|InvalidClientTokenId|SignatureDoesNotMatch|ExpiredToken|MalformedPolicy/i.test(name)) {
        throw new StorageError('access_denied', `STS refused to assume role '${o.roleArn}' (${name})`, { cause: e });
      }
      throw new StorageError('unreachable', `could not assume role '${o.roleArn}': STS did not answer`, { cause: e });
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) {
      throw new StorageError('access_denied', `STS returned no credentials for role '${o.roleArn}'`);
    }
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  };
  const provider = async (): Promise<AwsCredentialIdentity> => {
    if (fresh(cached)) return cached;
    pending ??= assume().then(
      (c) => {
        cached = c;
        pending = undefined;
        return c;
      },
      (e: unknown) => {
        pending = undefined;
        throw e;
      },
    );
    return pending;
  };
  return Object.assign(provider, { assumeCount: () => count });
}

/** An STS client with bounded timeouts (region and optional endpoint, e.g. moto in tests). */
export function createStsClient(config: STSClientConfig): STSClient {
  return instrumented(new STSClient({ maxAttempts: 3, ...config }), 'sts');
}
