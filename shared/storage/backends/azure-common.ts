/**
 * What `azure` (account key) and `azure_spi` (service principal) share: fields, shape rules,
 * location and provider construction; they differ in the credential only.
 */
import type { TokenCredential } from '@azure/identity';
import type { StorageConfig, StorageProvider } from '../types';
import { CLOUD_FIELDS, prefixedExportKeys, shortField } from './common-fields';
import type { AddFieldError, BackendDefinition, BuildContext, FieldTable } from './definition';
import { checkHttpUrl, str, text } from './values';

/** Head of both Azure field tables. */
export const AZURE_HEAD_FIELDS: FieldTable = {
  ...CLOUD_FIELDS,
  container: shortField({ required: true, connection: true }),
};

/** The account name; `secret` for key-based storages (Label Studio hides it there). */
export const accountNameField = (secret: boolean): FieldTable => ({ account_name: shortField({ required: true, secret, connection: true }) });

/** `azure_endpoint`, after the credential fields. */
export const AZURE_ENDPOINT_FIELD: FieldTable = { azure_endpoint: shortField({ connection: true }) };

/** Container and account rules of both types; `credential` adds the type's own in between. */
export function azureShapeErrors(config: StorageConfig, add: AddFieldError, credential: () => void): void {
  if (!str(config.container)) add('container', 'This field is required.');
  if (!str(config.account_name)) add('account_name', 'This field is required.');
  // Without azure_endpoint the account name becomes the host (`<account>.blob.core.windows.net`):
  // Azure's own naming rule keeps `127.0.0.1:80/x?` or `x@host#` from redirecting the client.
  else if (!/^[a-z0-9]{3,24}$/.test(str(config.account_name)!)) add('account_name', 'account_name must be 3-24 lower-case letters and digits.');
  credential();
  checkHttpUrl(config.azure_endpoint, 'azure_endpoint', add);
}

/** Builds the Azure Blob provider with a token credential (service principal) or the account key. */
export async function buildAzureProvider(config: StorageConfig, ctx: BuildContext, tokenCredential?: TokenCredential): Promise<StorageProvider> {
  const { AzureBlobProvider } = await import('../providers/azure');
  const { endpoint, lookup } = await ctx.pinnedEndpoint(config.azure_endpoint, 'azure_endpoint');
  return new AzureBlobProvider({
    ...ctx.common,
    type: config.type as 'azure' | 'azure_spi',
    container: str(config.container)!,
    accountName: str(config.account_name)!,
    accountKey: str(config.account_key),
    tokenCredential,
    endpoint,
    prefix: config.prefix,
    lookup,
    ca: ctx.hooks.azureCa,
    sasVersion: ctx.hooks.azureSasVersion,
    now: ctx.hooks.now,
  });
}

/** The parts of an Azure definition both types share. */
export const AZURE_COMMON = {
  exportKeyPrefix: prefixedExportKeys,
  location: { family: 'azure', place: (f) => text(f.container), endpoint: (f) => text(f.azure_endpoint) },
  // Event Grid webhooks to POST /api/storages/{type}/{id}/events (shared/api/storage-events).
  capabilities: { orderedListing: true, presign: true, eventSync: 'managed' },
} satisfies Partial<BackendDefinition>;

/** The container URI of a key under `scheme`. */
export const azureUri = (scheme: string) => (config: StorageConfig, key: string): string => `${scheme}://${config.container}/${key}`;
