/** `gcs`: Google Cloud Storage with a service-account (or authorized-user) JSON, or ADC. */
import type { LookupFunction } from 'node:net';
import { z } from 'zod';
import { pinnedLookup } from '../endpoint-guard';
import { MAX_CREDENTIALS_JSON_CHARS } from '../../http/limits';
import { StorageError } from '../../errors';
import { requireAmbientGrant } from '../tenancy';
import { CLOUD_FIELDS, CLOUD_IMPORT_FIELDS, prefixedExportKeys, shortField } from './common-fields';
import type { AddFieldError, BackendDefinition } from './definition';
import { checkHttpUrl, str, text } from './values';

/** Credential JSON types accepted for GCS: their token endpoints are fixed by google-auth-library. */
const GCS_CREDENTIAL_TYPES = ['service_account', 'authorized_user'];

/**
 * Google's own storage API hosts. GCS has no third-party-hosted API (unlike S3-compatible stores),
 * so a custom `gcs_endpoint` that is neither one of these nor allow-listed (an emulator) has no
 * legitimate use and is refused; only these hosts receive the credentials' access token.
 */
function isGoogleApiHost(host: string): boolean {
  return host === 'googleapis.com' || host.endsWith('.googleapis.com');
}

function credentialsProblems(creds: string, add: AddFieldError): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(creds);
  } catch {
    add('google_application_credentials', 'Google Application Credentials must be valid JSON string.');
  }
  if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
    add('google_application_credentials', 'Google Application Credentials must be a JSON object.');
  } else if (parsed !== undefined && !GCS_CREDENTIAL_TYPES.includes(String((parsed as { type?: unknown }).type))) {
    // external_account / impersonated credentials make google-auth-library fetch URLs taken
    // from the JSON itself (credential_source.url, token_url): an SSRF channel past the guard.
    add('google_application_credentials', `Google Application Credentials must be of type ${GCS_CREDENTIAL_TYPES.map((t) => `"${t}"`).join(' or ')}.`);
  }
}

/** The `gcs` storage type. */
export const gcsBackend: BackendDefinition = {
  type: 'gcs',
  title: 'Google Cloud Storage',
  titleOrder: 1,
  fields: {
    ...CLOUD_FIELDS,
    bucket: shortField({ required: true, connection: true }),
    google_project_id: shortField({ connection: true }),
    google_application_credentials: {
      schema: z.string().max(MAX_CREDENTIALS_JSON_CHARS, `Ensure this field has no more than ${MAX_CREDENTIALS_JSON_CHARS} characters.`).nullable(),
      description: 'Content of a service-account JSON file.',
      secret: true,
    },
    gcs_endpoint: shortField({ connection: true }),
    ...CLOUD_IMPORT_FIELDS,
    event_push_service_account: shortField({
      role: 'import',
      description: 'Pub/Sub push service account (--push-auth-service-account); pushes are refused without it.',
    }),
    event_push_audience: shortField({
      role: 'import',
      description: 'Push token audience; default: the push endpoint URL.',
    }),
  },
  shapeErrors(config, add) {
    if (!str(config.bucket)) add('bucket', 'This field is required.');
    const creds = str(config.google_application_credentials);
    if (creds) credentialsProblems(creds, add);
    checkHttpUrl(config.gcs_endpoint, 'gcs_endpoint', add);
    const pushAccount = str(config.event_push_service_account);
    if (pushAccount && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(pushAccount)) add('event_push_service_account', 'Enter a valid service account email.');
  },
  async build(config, ctx) {
    const { GcsProvider } = await import('../providers/gcs');
    const endpoint = str(config.gcs_endpoint);
    let pinned: { lookup?: LookupFunction; authenticate: boolean } = { authenticate: true };
    if (endpoint) {
      const checked = await ctx.guard(endpoint, 'gcs_endpoint');
      pinned = { lookup: pinnedLookup(checked), authenticate: isGoogleApiHost(checked.host) && /^https:\/\//i.test(endpoint) };
      if (!checked.allowed && !isGoogleApiHost(checked.host)) {
        throw new StorageError(
          'forbidden_endpoint',
          `gcs_endpoint: '${checked.host}' is not a Google API host; custom GCS endpoints (emulators) must be listed in LABELSYNC_ALLOWED_ENDPOINTS`,
        );
      }
    }
    const creds = str(config.google_application_credentials);
    // Without a JSON key the client falls back to ADC: the service's own identity.
    if (!creds) requireAmbientGrant(ctx.tenancy, config.orgId, { scheme: 'gs', bucket: str(config.bucket)!, prefix: config.prefix }, ['google_application_credentials']);
    return new GcsProvider({
      ...ctx.common,
      bucket: str(config.bucket)!,
      prefix: config.prefix,
      credentials: creds ? (JSON.parse(creds) as Record<string, unknown>) : undefined,
      projectId: str(config.google_project_id),
      endpoint,
      ...pinned,
    });
  },
  uriFor: (config, key) => `gs://${config.bucket}/${key}`,
  exportKeyPrefix: prefixedExportKeys,
  resolves: { schemes: ['gs'], bucketField: 'bucket' },
  // The endpoint is not part of the identity: a GCS bucket name is global.
  location: { family: 'gcs', place: (f) => text(f.bucket) },
  // Pub/Sub push to POST /api/storages/gcs/{id}/events (shared/api/storage-events).
  capabilities: { orderedListing: true, presign: true, eventSync: 'managed' },
};
