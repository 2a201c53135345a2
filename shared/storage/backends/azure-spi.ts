/**
 * `azure_spi`: Azure Blob Storage through a service principal (tenant, client id and secret;
 * SAS URLs signed with a user-delegation key). labelsync writes its URIs as `azure-spi://`;
 * Label Studio's OSS model writes `azure_spi://`, so both are answered.
 */
import { CLOUD_IMPORT_FIELDS, shortField } from './common-fields';
import type { BackendDefinition } from './definition';
import { accountNameField, AZURE_COMMON, AZURE_ENDPOINT_FIELD, AZURE_HEAD_FIELDS, azureShapeErrors, azureUri, buildAzureProvider } from './azure-common';
import { requireValue, str } from './values';

const CREDENTIAL_FIELDS = ['tenant_id', 'client_id', 'client_secret'] as const;

/** The `azure_spi` storage type. */
export const azureSpiBackend: BackendDefinition = {
  ...AZURE_COMMON,
  type: 'azure_spi',
  title: 'Microsoft Azure (service principal)',
  titleOrder: 6,
  fields: {
    ...AZURE_HEAD_FIELDS,
    ...accountNameField(false),
    // The secret is sent to the tenant's authority for this client id.
    tenant_id: shortField({ required: true, connection: true }),
    client_id: shortField({ required: true, connection: true }),
    client_secret: shortField({ required: true, secret: true }),
    ...AZURE_ENDPOINT_FIELD,
    ...CLOUD_IMPORT_FIELDS,
  },
  shapeErrors: (config, add) => azureShapeErrors(config, add, () => CREDENTIAL_FIELDS.forEach((f) => requireValue(config[f], f, add))),
  async build(config, ctx) {
    let credential = ctx.hooks.azureTokenCredential;
    if (!credential) {
      const { ClientSecretCredential } = await import('@azure/identity');
      credential = new ClientSecretCredential(str(config.tenant_id)!, str(config.client_id)!, str(config.client_secret)!, {
        retryOptions: { maxRetries: 2 },
      });
    }
    return buildAzureProvider(config, ctx, credential);
  },
  uriFor: azureUri('azure-spi'),
  resolves: { schemes: ['azure-spi', 'azure_spi'], bucketField: 'container' },
};
