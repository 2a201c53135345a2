/**
 * The console's pure logic against the server's own definitions: the storage form derived from the
 * OpenAPI document shows every field of every backend definition (secrets as write-only inputs),
 * the request body keeps stored secrets unless replaced, Label Studio's error shape becomes field
 * and general messages, and console paths route to their pages.
 */
import { describe, expect, it } from 'vitest';
import { errorFrom } from '../../console/src/api';
import { parseRoute } from '../../console/src/router';
import { buildBody } from '../../console/src/storage-body';
import { fieldsFromDocument, type FieldSpec, type Schema } from '../../console/src/storage-schema';
import { openApiDocument } from '../../shared/api/openapi';
import { BACKEND_LIST } from '../../shared/storage/backends';
import { fieldsOf, secretFieldsOf } from '../../shared/storage/backends/derive';

const doc = openApiDocument() as unknown as Schema;
const ROLES = ['import', 'export'] as const;

describe('storage form derived from the OpenAPI document', () => {
  for (const def of BACKEND_LIST) {
    for (const role of ROLES) {
      it(`${def.type} (${role}): every definition field is in the form, secrets write-only`, () => {
        const form = fieldsFromDocument(doc, role, def.type);
        const names = form.map((f) => f.name);
        const defined = fieldsOf(def, role).map(([n]) => n).filter((n) => n !== 'project');
        expect(names.sort()).toEqual(expect.arrayContaining(defined.sort()));
        const secrets = form.filter((f) => f.secret).map((f) => f.name).sort();
        expect(secrets).toEqual(secretFieldsOf(def).filter((n) => defined.includes(n)).sort());
        for (const f of form) expect(f.label, f.name).not.toBe('');
      });
    }
  }

  it('uses the guide wording and widgets for S3', () => {
    const by = Object.fromEntries(fieldsFromDocument(doc, 'import', 's3').map((f) => [f.name, f]));
    expect(by.bucket.label).toBe('Bucket Name');
    expect(by.regex_filter.label).toBe('File Filter Regex');
    expect(by.use_blob_urls).toMatchObject({ label: 'Treat every bucket object as a source file', widget: 'checkbox', default: false });
    expect(by.presign).toMatchObject({ label: 'Use pre-signed URLs', widget: 'checkbox', default: true });
    expect(by.aws_secret_access_key).toMatchObject({ widget: 'secret', secret: true });
    expect(by.sync_deletions.widget).toBe('select');
    expect(fieldsFromDocument(doc, 'import', 'localfiles').find((f) => f.name === 'path')!.label).toBe('Absolute local path');
    expect(fieldsFromDocument(doc, 'import', 's3s').find((f) => f.name === 'external_id')!.widget).toBe('readonly');
  });

  it('refuses a type the document does not describe', () => {
    expect(() => fieldsFromDocument(doc, 'import', 'ftp')).toThrow(/no source storage type "ftp"/);
  });
});

describe('storage request body', () => {
  const fields: FieldSpec[] = [
    { name: 'bucket', label: 'Bucket Name', widget: 'text', required: false, secret: false },
    { name: 'port', label: 'Port', widget: 'number', required: false, secret: false },
    { name: 'presign', label: 'Use pre-signed URLs', widget: 'checkbox', required: false, secret: false },
    { name: 'aws_secret_access_key', label: 'Secret Access Key', widget: 'secret', required: false, secret: true },
    { name: 'external_id', label: 'External ID', widget: 'readonly', required: false, secret: false },
  ];

  it('on create leaves out empty text and sends typed secrets', () => {
    expect(buildBody(fields, { bucket: 'b', port: '', presign: true, aws_secret_access_key: 's', external_id: 'x' }, new Set(), false)).toEqual({ bucket: 'b', presign: true, aws_secret_access_key: 's' });
  });

  it('on edit clears empty text, keeps stored secrets unless replaced, and a replaced empty secret clears it', () => {
    expect(buildBody(fields, { bucket: '', port: '6380', presign: false, aws_secret_access_key: '' }, new Set(), true)).toEqual({ bucket: null, port: 6380, presign: false });
    expect(buildBody(fields, { bucket: 'b', port: '1', presign: false, aws_secret_access_key: '' }, new Set(['aws_secret_access_key']), true)).toMatchObject({ aws_secret_access_key: '' });
  });

  it('sends a non-numeric number field as typed, so the server names it', () => {
    expect(buildBody(fields, { bucket: 'b', port: 'abc', presign: true, aws_secret_access_key: '' }, new Set(), false).port).toBe('abc');
  });
});

describe('API errors', () => {
  it('splits validation errors into field and general messages', () => {
    const e = errorFrom(400, JSON.stringify({ status_code: 400, detail: 'Validation error', validation_errors: { bucket: ['Invalid bucket name'], non_field_errors: ['could not connect'] } }));
    expect(e.fields).toEqual({ bucket: ['Invalid bucket name'] });
    expect(e.general).toEqual(['could not connect']);
    expect(e.message).toContain('bucket: Invalid bucket name');
  });

  it('keeps the detail, the bare message shape and the correlation id of a 500 readable', () => {
    expect(errorFrom(401, '{"status_code":401,"detail":"Invalid token."}').general).toEqual(['Invalid token.']);
    expect(errorFrom(400, '{"message":"Storage is not synchronizable"}').general).toEqual(['Storage is not synchronizable']);
    expect(errorFrom(500, '{"status_code":500,"detail":"Internal server error","correlation_id":"abc"}').general).toEqual(['Internal server error', 'Correlation id: abc']);
    expect(errorFrom(502, '<html>Bad gateway</html>').message).toBe('HTTP 502: <html>Bad gateway</html>');
  });
});

describe('console routes', () => {
  it('maps every page path, trailing slash optional', () => {
    expect(parseRoute('/')).toEqual({ page: 'projects' });
    expect(parseRoute('/console/')).toEqual({ page: 'projects' });
    expect(parseRoute('/console/projects/7')).toEqual({ page: 'storage', projectId: 7 });
    expect(parseRoute('/console/projects/7/tasks/')).toEqual({ page: 'tasks', projectId: 7 });
    expect(parseRoute('/console/projects/7/tasks/42')).toEqual({ page: 'task', projectId: 7, taskId: 42 });
    expect(parseRoute('/console/projects/7/webhooks')).toEqual({ page: 'webhooks', projectId: 7 });
    expect(parseRoute('/console/nope')).toEqual({ page: 'not-found', path: '/console/nope' });
  });
});
