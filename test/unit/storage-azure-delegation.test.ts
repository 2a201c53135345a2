/**
 * azure_spi user delegation key cache on Azurite (OAuth/HTTPS). Simulated: the TokenCredential
 * returns a locally made JWT (issuer sts.windows.net/<tenant>, audience storage.azure.com) since
 * Azure AD is unreachable; the delegation key and SAS come from Azurite for real.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import type { AzureBlobProvider } from '../../shared/storage/providers/azure';
import { testSettings, testRegistry } from '../contract/helpers';
const { getProvider } = testRegistry();

const TENANT = '11111111-2222-3333-4444-555555555555';
const jwt = () => {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ aud: 'https://storage.azure.com', iss: `https://sts.windows.net/${TENANT}/`, iat: now, nbf: now - 60, exp: now + 3600, oid: 'x', tid: TENANT })}.sig`;
};

describe('azure_spi delegation key', () => {
  it('is fetched once, reused, and refreshed when less than an hour is left', async () => {
    const az = inject('emulators').azureOauth;
    let clock = Date.now();
    const p = (await getProvider(
      {
        type: 'azure_spi',
        role: 'import',
        container: 'unit-spi',
        account_name: az.accountName,
        tenant_id: TENANT,
        client_id: 'c',
        client_secret: 's',
        azure_endpoint: az.blobEndpoint,
      },
      {
        settings: testSettings(),
        noCache: true,
        hooks: {
          azureTokenCredential: { getToken: async () => ({ token: jwt(), expiresOnTimestamp: Date.now() + 3600_000 }) },
          azureCa: readFileSync(az.caCertPath, 'utf8'),
          azureSasVersion: '2025-11-05',
          now: () => clock,
        },
      },
    )) as AzureBlobProvider;
    const svc = (p as unknown as { service: { getUserDelegationKey: (...a: unknown[]) => Promise<unknown> } }).service;
    const original = svc.getUserDelegationKey.bind(svc);
    let calls = 0;
    svc.getUserDelegationKey = (...a: unknown[]) => {
      calls++;
      return original(...a);
    };
    await Promise.all([p.presign('a.txt', 60), p.presign('b.txt', 60)]);
    expect(calls).toBe(1);
    clock += 22 * 3600_000; // 2 h left of 24
    await p.presign('c.txt', 60);
    expect(calls).toBe(1);
    clock += 1.5 * 3600_000; // 30 min left
    const url = await p.presign('d.txt', 60);
    expect(calls).toBe(2);
    expect(url).toMatch(/[?&]skoid=/); // user-delegation SAS fields
  });
});
