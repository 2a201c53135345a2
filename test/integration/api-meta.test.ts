/** Health, OpenAPI document and unmatched paths through the meta Lambda handler. */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/meta';
import { client, newTenant, useTestEnvironment } from './api-harness';

let api: ReturnType<typeof client>;
const anon = client(handler);

beforeAll(async () => {
  useTestEnvironment();
  api = client(handler, (await newTenant('meta')).token);
});

describe('meta', () => {
  it('answers /health without a token, with and without the trailing slash', async () => {
    for (const path of ['/health', '/health/']) {
      const r = await anon('GET', path);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: 'UP' });
      expect(r.headers['content-type']).toBe('application/json');
    }
  });

  it('serves the OpenAPI 3.1 document to authenticated callers only', async () => {
    expect((await anon('GET', '/api/openapi.json')).status).toBe(401);
    const r = await api('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    expect(r.json.paths['/api/storages/s3/{id}'].patch.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/S3ImportStoragePatch');
    const s3 = r.json.components.schemas.S3ImportStorageCreate;
    expect(s3.properties.presign_ttl.default).toBe(1);
    expect(s3.required).toEqual(['project']);
    expect(r.json.components.schemas.S3ImportStorage.properties).not.toHaveProperty('aws_secret_access_key');
    expect(r.json.components.schemas.S3ImportStorage.properties).toHaveProperty('has_aws_secret_access_key');
  });

  it('answers 404 JSON for unknown paths and 405 for wrong methods', async () => {
    const r = await api('GET', '/nothing/here');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ status_code: 404, detail: 'Not found.' });
    expect((await api('POST', '/health')).status).toBe(405);
  });
});
