/**
 * Azure Blob (`azure`, account key) provider contract on Azurite, which checks shared-key
 * signatures and SAS signature/expiry.
 */
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { inject } from 'vitest';
import type { StorageConfig } from '../../shared/storage/types';
import { runProviderContract } from './provider-contract';
import { cloudScoping, testSettings } from './helpers';

runProviderContract('azure (account key)', async () => {
  const az = inject('emulators').azure;
  const svc = new BlobServiceClient(az.blobEndpoint, new StorageSharedKeyCredential(az.accountName, az.accountKey));
  for (const c of ['contract-azure', 'contract-azure-empty']) await svc.getContainerClient(c).createIfNotExists();
  const base: StorageConfig = {
    type: 'azure',
    role: 'import',
    container: 'contract-azure',
    account_name: az.accountName,
    account_key: az.accountKey,
    azure_endpoint: az.blobEndpoint,
  };
  const wrongKey = Buffer.from('definitely-not-the-account-key-0123456789').toString('base64');
  return {
    base,
    ...cloudScoping(base),
    empty: { ...base, container: 'contract-azure-empty' },
    missing: { config: { ...base, container: 'contract-azure-missing' }, name: 'contract-azure-missing' },
    wrongCredentials: { config: { ...base, account_key: wrongKey }, secrets: [wrongKey, az.accountKey] },
    options: { settings: testSettings() },
    presign: 'http',
    verifiesSignatures: true,
    hierarchical: true,
    placeholders: true,
    importNeedsObject: true,
  };
});
