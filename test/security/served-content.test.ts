/**
 * Bytes from a bucket or the document root are user-controlled. When labelsync serves them from
 * its own origin (resolve proxy, /data/local-files), an HTML or SVG object opened directly must not
 * run scripts there: responses carry `content-security-policy: … sandbox` and
 * `x-content-type-options: nosniff`, whatever the stored content type.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storages } from '../../functions/api/storages';
import { handler as projects } from '../../functions/api/projects';
import { handler as resolve } from '../../functions/api/resolve';
import { createEmulatorS3Client } from '../emulators/s3-client';
import { createS3Buckets } from '../contract/helpers';
import { client, newTenant, useTestEnvironment, patchApp } from '../integration/api-harness';

const em = inject('emulators');
const root = mkdtempSync(join(tmpdir(), 'labelsync-served-'));
const BUCKET = 'served-content';
const XSS = '<html><script>alert(document.domain)</script></html>';
let res: ReturnType<typeof client>;
let taskId: number;

beforeAll(async () => {
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  useTestEnvironment();
  patchApp({ onExportStorageCreated: async () => undefined });
  await createS3Buckets(em.s3.endpoint, em.s3, em.s3.region, [BUCKET]);
  const s3 = createEmulatorS3Client(em.s3);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'page.html', Body: XSS, ContentType: 'text/html' }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'pic.png', Body: XSS, ContentType: 'application/octet-stream' }));
  s3.destroy();
  mkdirSync(join(root, 'ds'), { recursive: true });
  writeFileSync(join(root, 'ds', 'evil.svg'), `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`);
  writeFileSync(join(root, 'ds', 'evil.html'), XSS);
  const t = await newTenant('served');
  const api = client(storages, t.token);
  const apiP = client(projects, t.token);
  res = client(resolve, t.token);
  const projectId = (await apiP('POST', '/api/projects', { title: 'served' })).json.id;
  const s3s = await api('POST', '/api/storages/s3', {
    project: projectId, bucket: BUCKET, s3_endpoint: em.s3.endpoint, region_name: em.s3.region,
    aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey, presign: false,
  });
  expect(s3s.status, s3s.text).toBe(201);
  expect((await api('POST', '/api/storages/localfiles', { project: projectId, path: join(root, 'ds') })).status).toBe(201);
  await apiP('POST', `/api/projects/${projectId}/import`, [{ page: `s3://${BUCKET}/page.html` }]);
  const list = await apiP('GET', `/api/tasks?project=${projectId}`);
  taskId = list.json.tasks[0].id;
});

const expectSandboxed = (r: { status: number; headers: Record<string, string> }) => {
  expect(r.status).toBe(200);
  expect(r.headers['x-content-type-options']).toBe('nosniff');
  expect(r.headers['content-security-policy']).toMatch(/\bsandbox\b/);
  expect(r.headers['content-security-policy']).toMatch(/default-src 'none'/);
};

describe('user-controlled content served from our origin cannot run scripts', () => {
  it('resolve proxy of an HTML object (stored as text/html) and of sniffable bytes', async () => {
    for (const key of ['page.html', 'pic.png']) {
      const fileuri = Buffer.from(`s3://${BUCKET}/${key}`).toString('base64url');
      const r = await res('GET', `/tasks/${taskId}/resolve/?fileuri=${fileuri}`);
      expectSandboxed(r);
      expect(r.text).toBe(XSS);
    }
  });

  it('/data/local-files of an SVG and an HTML file', async () => {
    for (const f of ['ds/evil.svg', 'ds/evil.html']) {
      const r = await res('GET', `/data/local-files/?d=${f}`);
      expectSandboxed(r);
    }
  });
});
