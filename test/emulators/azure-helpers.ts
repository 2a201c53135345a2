/**
 * Helpers for tests against Azurite's OAuth/HTTPS mode.
 *
 * TLS: Node reads NODE_EXTRA_CA_CERTS only at process start, so setting it from a test is too
 * late. @azure/storage-blob 12.32 forwards unknown pipeline options to core-rest-pipeline, whose
 * `tlsOptions` ({ca}) installs a TLS policy: pass `azuriteTlsOptions(caCertPath)` as client options.
 *
 * Tokens: @azure/identity needs Microsoft's login host (unreachable here), so tests inject a
 * TokenCredential minting the JWT Azurite's `--oauth basic` checks (issuer sts.windows.net/<tenant>/,
 * audience https://storage.azure.com, time window; it does not verify the signature).
 */
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { StoragePipelineOptions } from '@azure/storage-blob';

/** Client options making @azure/storage-blob trust the emulator's test CA. */
export function azuriteTlsOptions(caCertPath: string, extra: StoragePipelineOptions = {}): StoragePipelineOptions {
  const withTls: StoragePipelineOptions & { tlsOptions: { ca: Buffer } } = {
    ...extra,
    tlsOptions: { ca: readFileSync(caCertPath) },
  };
  return withTls;
}

/** A TokenCredential standing in for Azure AD (service principal) against Azurite. */
export function fakeAzureAdCredential(tenantId = crypto.randomUUID()): TokenCredential & { issued: number } {
  const cred = {
    issued: 0,
    async getToken(): Promise<AccessToken> {
      cred.issued++;
      const now = Math.floor(Date.now() / 1000);
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const token = [
        enc({ alg: 'RS256', typ: 'JWT' }),
        enc({
          aud: 'https://storage.azure.com',
          iss: `https://sts.windows.net/${tenantId}/`,
          iat: now,
          nbf: now - 60,
          exp: now + 3600,
          oid: crypto.randomUUID(),
          tid: tenantId,
        }),
        Buffer.from('unsigned').toString('base64url'),
      ].join('.');
      return { token, expiresOnTimestamp: (now + 3600) * 1000 };
    },
  };
  return cred;
}
