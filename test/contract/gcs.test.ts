/**
 * GCS provider contract on the in-process GCS JSON-API emulator (test/emulators/gcs-server.ts),
 * with the service-account JSON it trusts; V4 signed URLs are verified by the emulator against
 * the account's public key (signature and expiry).
 */
import { Storage } from '@google-cloud/storage';
import { inject } from 'vitest';
import type { StorageConfig } from '../../shared/storage/types';
import { runProviderContract } from './provider-contract';
import { cloudScoping, testSettings } from './helpers';

runProviderContract('gcs', async () => {
  const { gcs, gcsCredentials } = inject('emulators');
  const admin = new Storage({ apiEndpoint: gcs.apiEndpoint, projectId: gcs.projectId, credentials: gcsCredentials });
  for (const name of ['contract-gcs', 'contract-gcs-empty']) {
    const [exists] = await admin.bucket(name).exists();
    if (!exists) await admin.createBucket(name);
  }
  const base: StorageConfig = {
    type: 'gcs',
    role: 'import',
    bucket: 'contract-gcs',
    gcs_endpoint: gcs.apiEndpoint,
    google_project_id: gcs.projectId,
    google_application_credentials: JSON.stringify(gcsCredentials),
  };
  return {
    base,
    ...cloudScoping(base),
    empty: { ...base, bucket: 'contract-gcs-empty' },
    missing: { config: { ...base, bucket: 'contract-gcs-missing' }, name: 'contract-gcs-missing' },
    notApplicable: {
      wrongCredentials: 'the provider sends an access token only to *.googleapis.com, never to a custom endpoint, so the emulator cannot tell good credentials from bad ones',
    },
    // The in-process emulator answers a 1,000-entry page slowly under load: page through fewer
    // objects in smaller pages (the paging code path is the same).
    bulk: { count: 250, pageSize: 100 },
    options: { settings: testSettings({ requestTimeoutMs: 60_000 }) },
    presign: 'http',
    verifiesSignatures: true,
    hierarchical: true,
    placeholders: true,
    importNeedsObject: true,
  };
});
