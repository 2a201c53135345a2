/**
 * `s3s`: S3 through an assumed IAM role (AssumeRole with an optional external id), the static
 * keys, when given, being the caller's credentials for STS.
 */
import { CLOUD_IMPORT_FIELDS, nullableBool, shortField } from './common-fields';
import type { BackendDefinition } from './definition';
import { buildS3Provider, regionOf, S3_COMMON, S3_FIELDS, s3ShapeErrors, staticCredentials } from './s3-common';
import { str } from './values';

/** The `s3s` storage type. */
export const s3sBackend: BackendDefinition = {
  ...S3_COMMON,
  type: 's3s',
  title: 'AWS S3 (IAM role)',
  titleOrder: 5,
  fields: {
    ...S3_FIELDS,
    role_arn: shortField({ required: true, connection: true }),
    external_id: shortField(),
    // Label Studio clients send it; the role is always assumed with the keys above (or none).
    legacy_auth: { schema: nullableBool, noEffect: true },
    ...CLOUD_IMPORT_FIELDS,
  },
  shapeErrors: (config, add) => s3ShapeErrors(config, add, true),
  async build(config, ctx) {
    const { assumeRoleProvider, createStsClient, roleSessionName } = await import('../sts');
    const { hooks, settings } = ctx;
    const sts =
      hooks.stsClient ??
      createStsClient({
        region: regionOf(config),
        endpoint: hooks.stsEndpoint,
        credentials: staticCredentials(config),
        requestHandler: { connectionTimeout: settings.connectTimeoutMs, requestTimeout: settings.requestTimeoutMs },
      });
    const credentials = assumeRoleProvider({
      sts,
      roleArn: str(config.role_arn)!,
      externalId: str(config.external_id),
      sessionName: roleSessionName(ctx.storageId),
      durationSeconds: hooks.stsDurationSeconds,
      now: hooks.now,
    });
    return buildS3Provider(config, ctx, credentials);
  },
};
