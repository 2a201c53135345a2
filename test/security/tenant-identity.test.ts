/**
 * Tenancy of the service's identity, through the real API (harness) against the emulators:
 * - the operator's own credentials (AWS keys in the process environment; a GCS service account
 *   as Application Default Credentials) sign only for organizations an operator granted them
 *   (LABELSYNC_AMBIENT_GRANTS), on validate, create and any provider built from a stored storage;
 * - s3s roles are assumed with the organization's server-generated external id (a different
 *   user value is refused), roles of the service's own account only when allow-listed, with a
 *   session policy naming only the storage's bucket and prefix. STS is a recording mock here
 *   (the assertions are on the AssumeRole request); one case runs real AssumeRole on moto through
 *   LABELSYNC_STS_ENDPOINT when moto is installed (a visible skip otherwise);
 * - GET /api/organizations/current hands out the external id: stable, per organization,
 *   generated once for organizations that predate it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as projectsHandler } from '../../functions/api/projects';
import { handler as storagesHandler } from '../../functions/api/storages';
import { mintToken } from '../../shared/api/tokens';
import { putOrg } from '../../shared/db/repo-orgs';
import { ValidationError } from '../../shared/errors';
import { processApp } from '../../shared/process-app';
import type { StsLike } from '../../shared/storage/sts';
import { createS3Buckets } from '../contract/helpers';
import { client, newTenant, patchApp, useTestEnvironment } from '../integration/api-harness';

const em = inject('emulators');
const run = Date.now().toString(36);
const BUCKET = `tenant-s3-${run}`;
const OTHER_BUCKET = `tenant-s3-other-${run}`;
const GCS_BUCKET = `tenant-gcs-${run}`;
const ROLE = 'arn:aws:iam::123456789012:role/customer-reader';

interface Tenant {
  orgId: string;
  projects: ReturnType<typeof client>;
  storages: ReturnType<typeof client>;
  project: number;
}

async function tenant(name: string): Promise<Tenant> {
  const t = await newTenant(name);
  const projects = client(projectsHandler, t.token);
  const p = await projects('POST', '/api/projects', { title: name });
  expect(p.status, p.text).toBe(201);
  return { orgId: t.orgId, projects, storages: client(storagesHandler, t.token), project: p.json.id };
}

const savedEnv: Record<string, string | undefined> = {};
function setEnv(vars: Record<string, string>): void {
  for (const [k, v] of Object.entries(vars)) {
    savedEnv[k] ??= process.env[k];
    process.env[k] = v;
  }
}

let A: Tenant;
let B: Tenant;
/** App variables of every test: A may use the operator identity for BUCKET and GCS_BUCKET only. */
let grants: Record<string, string>;

beforeAll(async () => {
  useTestEnvironment();
  await createS3Buckets(em.s3.endpoint, em.s3, em.s3.region, [BUCKET, OTHER_BUCKET]);
  const admin = new Storage({ apiEndpoint: em.gcs.apiEndpoint, projectId: em.gcs.projectId, credentials: em.gcsCredentials as never });
  const [exists] = await admin.bucket(GCS_BUCKET).exists();
  if (!exists) await admin.createBucket(GCS_BUCKET);
  const adc = join(mkdtempSync(join(tmpdir(), 'labelsync-adc-')), 'sa.json');
  writeFileSync(adc, JSON.stringify(em.gcsCredentials), { mode: 0o600 });
  // The operator's identity, as on a server started with keys in its environment.
  setEnv({ AWS_ACCESS_KEY_ID: em.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: em.s3.secretAccessKey, GOOGLE_APPLICATION_CREDENTIALS: adc });
  const seeder = await processApp().getProvider(
    { type: 's3', role: 'export', bucket: BUCKET, s3_endpoint: em.s3.endpoint, region_name: em.s3.region, aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey },
    { noCache: true },
  );
  await seeder.write('team/a.json', '{"image":"a"}'); // an import prefix must hold an object to validate
  [A, B] = await Promise.all([tenant('granted'), tenant('other')]);
  grants = { LABELSYNC_AMBIENT_GRANTS: JSON.stringify({ [A.orgId]: [`s3://${BUCKET}`, `gs://${GCS_BUCKET}`] }) };
  patchApp({}, grants);
}, 60_000);

afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  patchApp({ storageHooks: {} }, { LABELSYNC_AMBIENT_GRANTS: undefined, LABELSYNC_STS_ENDPOINT: undefined, LABELSYNC_ACCOUNT_ID: undefined, LABELSYNC_ASSUMABLE_ROLE_ARNS: undefined });
});

const keylessS3 = (t: Tenant, bucket = BUCKET) => ({ project: t.project, bucket, s3_endpoint: em.s3.endpoint, region_name: em.s3.region });
const keylessGcs = (t: Tenant) => ({ project: t.project, bucket: GCS_BUCKET, gcs_endpoint: em.gcs.apiEndpoint, google_project_id: em.gcs.projectId });

describe('the operator identity (storages without credentials)', () => {
  it('S3: an organization without a grant is refused on validate and create, naming the key fields', async () => {
    for (const path of ['/api/storages/s3/validate', '/api/storages/s3', '/api/storages/export/s3']) {
      const r = await B.storages('POST', path, keylessS3(B));
      expect(r.status, `${path}: ${r.text}`).toBe(400);
      expect(Object.keys(r.json.validation_errors).sort()).toEqual(['aws_access_key_id', 'aws_secret_access_key']);
    }
  });

  it('S3: the granted organization works for its granted bucket only', async () => {
    expect((await A.storages('POST', '/api/storages/s3/validate', keylessS3(A))).status).toBe(200);
    const created = await A.storages('POST', '/api/storages/s3', keylessS3(A));
    expect(created.status, created.text).toBe(201);
    const other = await A.storages('POST', '/api/storages/s3/validate', keylessS3(A, OTHER_BUCKET));
    expect(other.status).toBe(400);
    expect(other.json.validation_errors.aws_access_key_id).toBeDefined();
  });

  it('GCS: Application Default Credentials are refused without a grant, accepted with one', async () => {
    const refused = await B.storages('POST', '/api/storages/gcs/validate', keylessGcs(B));
    expect(refused.status, refused.text).toBe(400);
    expect(Object.keys(refused.json.validation_errors)).toEqual(['google_application_credentials']);
    const granted = await A.storages('POST', '/api/storages/gcs/validate', keylessGcs(A));
    expect(granted.status, granted.text).toBe(200);
  });

  it('a stored keyless storage of an ungranted organization gets no provider (sync, resolve and export build from it)', async () => {
    const created = await A.storages('POST', '/api/storages/s3', keylessS3(A));
    const app = processApp();
    const { getStorage } = await import('../../shared/db/repo-storages');
    const stored = (await getStorage(app.db, created.json.id))!;
    await expect(app.getProvider(await app.storageConfig(stored), { noCache: true })).resolves.toBeDefined();
    // The same row as if organization B owned it (e.g. created before the operator revoked a grant).
    const e = await app.getProvider(await app.storageConfig({ ...stored, orgId: B.orgId }), { noCache: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).fields.aws_access_key_id).toBeDefined();
  });
});

/** STS mock recording every AssumeRole; it answers the s3rver keys, so S3 calls really run. */
function recordingSts(): { client: StsLike; calls: AssumeRoleCommand['input'][] } {
  const calls: AssumeRoleCommand['input'][] = [];
  return {
    calls,
    client: {
      async send(c: AssumeRoleCommand) {
        calls.push(c.input);
        return { Credentials: { AccessKeyId: em.s3.accessKeyId, SecretAccessKey: em.s3.secretAccessKey, SessionToken: 'stub', Expiration: new Date(Date.now() + 3600_000) } };
      },
    },
  };
}

const s3sBody = (t: Tenant, extra: Record<string, unknown> = {}) => ({
  project: t.project, bucket: BUCKET, prefix: 'team', s3_endpoint: em.s3.endpoint, region_name: em.s3.region, role_arn: ROLE, ...extra,
});

describe('assumed roles (s3s)', () => {
  it("assumes with the organization's external id and a session policy naming only the bucket and prefix", async () => {
    const sts = recordingSts();
    patchApp({ storageHooks: { stsClient: sts.client } }, grants);
    const ext = (await A.projects('GET', '/api/organizations/current')).json.external_id as string;
    const created = await A.storages('POST', '/api/storages/s3s', s3sBody(A, { recursive_scan: true }));
    expect(created.status, created.text).toBe(201);
    expect(created.json.external_id).toBe(ext);
    expect((await A.storages('GET', `/api/storages/s3s/${created.json.id}`)).json.external_id).toBe(ext);
    // Label Studio clients echo the value back: the same one is accepted.
    expect((await A.storages('POST', '/api/storages/s3s/validate', s3sBody(A, { external_id: ext }))).status).toBe(200);
    expect(sts.calls.length).toBeGreaterThanOrEqual(2);
    for (const c of sts.calls) {
      expect(c.ExternalId).toBe(ext);
      const resources = (JSON.parse(c.Policy!) as { Statement: { Resource: string }[] }).Statement.map((s) => s.Resource).sort();
      expect(resources).toEqual([`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/team/*`]);
    }
  });

  it("refuses a user external_id that differs from the organization's, naming external_id", async () => {
    patchApp({ storageHooks: { stsClient: recordingSts().client } }, grants);
    const other = (await B.projects('GET', '/api/organizations/current')).json.external_id as string;
    for (const path of ['/api/storages/s3s/validate', '/api/storages/s3s']) {
      const r = await A.storages('POST', path, s3sBody(A, { external_id: other }));
      expect(r.status, r.text).toBe(400);
      expect(Object.keys(r.json.validation_errors)).toEqual(['external_id']);
    }
  });

  it("refuses a role of the service's own account unless allow-listed, naming role_arn", async () => {
    const sts = recordingSts();
    patchApp({ storageHooks: { stsClient: sts.client } }, { ...grants, LABELSYNC_ACCOUNT_ID: '123456789012' });
    const r = await A.storages('POST', '/api/storages/s3s/validate', s3sBody(A));
    expect(r.status, r.text).toBe(400);
    expect(Object.keys(r.json.validation_errors)).toEqual(['role_arn']);
    expect(sts.calls).toEqual([]);
    patchApp({ storageHooks: { stsClient: sts.client } }, { ...grants, LABELSYNC_ACCOUNT_ID: '123456789012', LABELSYNC_ASSUMABLE_ROLE_ARNS: ROLE });
    expect((await A.storages('POST', '/api/storages/s3s/validate', s3sBody(A))).status).toBe(200);
    patchApp({ storageHooks: {} }, { ...grants, LABELSYNC_ACCOUNT_ID: undefined, LABELSYNC_ASSUMABLE_ROLE_ARNS: undefined });
  });

  it.skipIf(!em.sts)('LABELSYNC_STS_ENDPOINT sends AssumeRole to that STS (real AssumeRole on moto)', async () => {
    const moto = em.sts!.endpoint;
    const base = { accessKeyId: 'base-key', secretAccessKey: 'base-secret' };
    await createS3Buckets(moto, base, 'us-east-1', [BUCKET]);
    patchApp({ storageHooks: {} }, { ...grants, LABELSYNC_STS_ENDPOINT: moto });
    const r = await A.storages('POST', '/api/storages/s3s/validate', {
      ...s3sBody(A, { prefix: '' }), s3_endpoint: moto, region_name: 'us-east-1', aws_access_key_id: base.accessKeyId, aws_secret_access_key: base.secretAccessKey,
    });
    expect(r.status, r.text).toBe(200);
    patchApp({ storageHooks: {} }, { ...grants, LABELSYNC_STS_ENDPOINT: undefined });
  });
});

describe('GET /api/organizations/current', () => {
  it('returns id, title and an external id: stable across calls, different per organization', async () => {
    const a1 = await A.projects('GET', '/api/organizations/current');
    expect(a1.status, a1.text).toBe(200);
    expect(a1.json).toMatchObject({ id: A.orgId, title: expect.stringContaining('granted') });
    expect(a1.json.external_id).toMatch(/^[\w+=,.@:/-]{16,}$/);
    expect((await A.projects('GET', '/api/organizations/current/')).json.external_id).toBe(a1.json.external_id);
    expect((await B.projects('GET', '/api/organizations/current')).json.external_id).not.toBe(a1.json.external_id);
  });

  it('an organization created before external ids gets one once, even under concurrent first reads', async () => {
    const db = processApp().db;
    const orgId = `legacy-${run}`;
    await putOrg(db, { kind: 'org', id: orgId, title: 'legacy', created_at: new Date().toISOString() });
    const api = client(projectsHandler, await mintToken(db, orgId));
    const seen = await Promise.all(Array.from({ length: 5 }, () => api('GET', '/api/organizations/current')));
    const ids = new Set(seen.map((r) => r.json.external_id as string));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBeTruthy();
    expect((await api('GET', '/api/organizations/current')).json.external_id).toBe([...ids][0]);
  });
});
