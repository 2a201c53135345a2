/**
 * `azure_spi` (service principal) provider contract on Azurite in OAuth/HTTPS mode.
 * Real: bearer-token authorisation of every blob call, the HTTPS connection trusting the test CA,
 * a user delegation key fetched from Azurite and user-delegation SAS URLs that Azurite verifies
 * (altered/expired → 403).
 * Simulated: Microsoft's login host is unreachable here, so instead of ClientSecretCredential an
 * injected TokenCredential returns an unsigned JWT with issuer `https://sts.windows.net/<tenant>/`
 * and audience `https://storage.azure.com` (Azurite's `--oauth basic` checks those claims, not
 * the signature). A wrong-credentials case is a token with a foreign audience.
 */
import { readFileSync } from 'node:fs';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { inject } from 'vitest';
import type { StorageConfig } from '../../shared/storage/types';
import { runProviderContract } from './provider-contract';
import { cloudScoping, testSettings } from './helpers';
import https from 'node:https';

const TENANT = '72f988bf-0000-0000-0000-2d7cd011db47';

function fakeJwt(audience: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return [
    b64({ alg: 'RS256', typ: 'JWT' }),
    b64({ aud: audience, iss: `https://sts.windows.net/${TENANT}/`, iat: now - 60, nbf: now - 60, exp: now + 3600, oid: 'contract-oid', tid: TENANT }),
    'c2lnbmF0dXJlLW5vdC1jaGVja2Vk',
  ].join('.');
}

function credential(audience: string): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token: fakeJwt(audience), expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
}

runProviderContract('azure_spi (service principal, OAuth on Azurite)', async () => {
  const az = inject('emulators').azureOauth;
  const ca = readFileSync(az.caCertPath, 'utf8');
  // Create containers with the account key over the same HTTPS endpoint.
  const agent = new https.Agent({ ca });
  const admin = new BlobServiceClient(az.blobEndpoint, new StorageSharedKeyCredential(az.accountName, az.accountKey));
  const pipeline = (admin as unknown as { storageClientContext: { pipeline: { addPolicy(p: object): void } } }).storageClientContext.pipeline;
  pipeline.addPolicy({ name: 'test-ca', sendRequest: (req: { agent?: unknown }, next: (r: unknown) => unknown) => ((req.agent = agent), next(req)) });
  for (const c of ['contract-spi', 'contract-spi-empty']) await admin.getContainerClient(c).createIfNotExists();
  const base: StorageConfig = {
    type: 'azure_spi',
    role: 'import',
    container: 'contract-spi',
    account_name: az.accountName,
    tenant_id: TENANT,
    client_id: 'contract-client-id',
    client_secret: 'contract-client-secret',
    azure_endpoint: az.blobEndpoint,
  };
  const hooks = { azureTokenCredential: credential('https://storage.azure.com'), azureCa: ca, azureSasVersion: '2025-11-05' };
  return {
    base,
    ...cloudScoping(base),
    empty: { ...base, container: 'contract-spi-empty' },
    missing: { config: { ...base, container: 'contract-spi-missing' }, name: 'contract-spi-missing' },
    wrongCredentials: {
      // A token for another audience: Azurite refuses it like Azure refuses a foreign token.
      config: { ...base, client_secret: 'wrong-client-secret' },
      secrets: ['wrong-client-secret', 'contract-client-secret'],
      options: { settings: testSettings(), hooks: { ...hooks, azureTokenCredential: credential('https://management.azure.com') } },
    },
    options: { settings: testSettings(), hooks },
    // Seeding thousands of blobs over OAuth and TLS outlasts the hook timeout on a loaded machine:
    // fewer objects in smaller pages (same paging code; 1,000-entry pages are checked in azure.test.ts).
    bulk: { count: 250, pageSize: 100 },
    presign: 'http',
    verifiesSignatures: true,
    hierarchical: true,
    placeholders: true,
    importNeedsObject: true,
  };
});
