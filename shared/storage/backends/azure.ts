/** `azure`: Azure Blob Storage with the account name and key (SAS URLs signed with the key). */
import { CLOUD_IMPORT_FIELDS, shortField } from './common-fields';
import type { BackendDefinition } from './definition';
import { accountNameField, AZURE_COMMON, AZURE_ENDPOINT_FIELD, AZURE_HEAD_FIELDS, azureShapeErrors, azureUri, buildAzureProvider } from './azure-common';
import { requireValue } from './values';

/** The `azure` storage type. */
export const azureBackend: BackendDefinition = {
  ...AZURE_COMMON,
  type: 'azure',
  title: 'Microsoft Azure',
  titleOrder: 2,
  fields: {
    ...AZURE_HEAD_FIELDS,
    ...accountNameField(true),
    account_key: shortField({ required: true, secret: true }),
    ...AZURE_ENDPOINT_FIELD,
    ...CLOUD_IMPORT_FIELDS,
  },
  shapeErrors: (config, add) => azureShapeErrors(config, add, () => requireValue(config.account_key, 'account_key', add)),
  build: (config, ctx) => buildAzureProvider(config, ctx),
  uriFor: azureUri('azure-blob'),
  resolves: { schemes: ['azure-blob'], bucketField: 'container' },
};
