/**
 * `s3s`: S3 through an assumed IAM role, assumed with the organization's external id and a
 * session policy limited to the storage's bucket and prefix (see ../tenancy.ts). The static keys,
 * when given, are the caller's credentials for STS; without them the service's own identity calls
 * STS, which the customer's trust policy (principal + sts:ExternalId) is there to restrict.
 */
import { checkAssumableRole, externalIdFor, sessionPolicy } from '../tenancy';
import type { StorageConfig } from '../types';
import { CLOUD_IMPORT_FIELDS, nullableBool, shortField } from './common-fields';
import type { BackendDefinition, BuildContext } from './definition';
import { buildS3Provider, regionOf, S3_COMMON, S3_FIELDS, s3ShapeErrors, staticCredentials } from './s3-common';
import { str } from './values';

/** The role's credentials, assumed on first use and refreshed before they expire. */
async function assumedCredentials(config: StorageConfig, ctx: BuildContext) {
  const { assumeRoleProvider, createStsClient, roleSessionName } = await import('../sts');
  const { hooks, settings, tenancy } = ctx;
  const roleArn = str(config.role_arn)!;
  checkAssumableRole(tenancy, roleArn);
  const externalId = await externalIdFor(tenancy, config.orgId, str(config.external_id));
  const sts =
    hooks.stsClient ??
    createStsClient({
      region: regionOf(config),
      endpoint: hooks.stsEndpoint,
      credentials: staticCredentials(config),
      requestHandler: { connectionTimeout: settings.connectTimeoutMs, requestTimeout: settings.requestTimeoutMs },
    });
  return assumeRoleProvider({
    sts,
    roleArn,
    externalId,
    policy: sessionPolicy(roleArn, str(config.bucket)!, config.prefix),
    sessionName: roleSessionName(ctx.storageId),
    durationSeconds: hooks.stsDurationSeconds,
    now: hooks.now,
  });
}

/** The `s3s` storage type. */
export const s3sBackend: BackendDefinition = {
  ...S3_COMMON,
  type: 's3s',
  title: 'AWS S3 (IAM role)',
  titleOrder: 5,
  fields: {
    ...S3_FIELDS,
    role_arn: shortField({ required: true, connection: true }),
    external_id: shortField({ description: "Read-only: the organization's external id (GET /api/organizations/current); another value is refused." }),
    // Label Studio clients send it; the role is always assumed with the keys above (or none).
    legacy_auth: { schema: nullableBool, noEffect: true },
    ...CLOUD_IMPORT_FIELDS,
  },
  shapeErrors: (config, add) => s3ShapeErrors(config, add, true),
  build: async (config, ctx) => buildS3Provider(config, ctx, await assumedCredentials(config, ctx)),
};
