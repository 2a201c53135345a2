import { describe, expect, it } from 'vitest';
import { StorageError, ValidationError } from '../../shared/errors';
import { parseConfigErrors, uriFor } from '../../shared/storage/registry';
import { testRegistry } from '../contract/helpers';
import type { StorageConfig } from '../../shared/storage/types';
const { getProvider } = testRegistry();

const settings = { allowedEndpoints: [], maxReadBytes: 1000, localFilesDocumentRoot: '/', connectTimeoutMs: 3000, requestTimeoutMs: 10000 };
const s3 = (extra: Partial<StorageConfig> = {}): StorageConfig => ({ type: 's3', role: 'import', bucket: 'my-bucket', ...extra });

async function fails(config: StorageConfig): Promise<Error> {
  try {
    await getProvider(config, { settings, noCache: true });
  } catch (e) {
    return e as Error;
  }
  throw new Error('accepted');
}

describe('storage config validation', () => {
  it('requires access key id and secret together, naming the missing field', () => {
    const msg = 'Access Key ID and Secret Access Key must be provided together.';
    expect(parseConfigErrors(s3({ aws_access_key_id: 'AKIA' }))).toEqual({ aws_secret_access_key: [msg] });
    expect(parseConfigErrors(s3({ aws_secret_access_key: 'x', aws_access_key_id: '' }))).toEqual({ aws_access_key_id: [msg] });
    expect(parseConfigErrors(s3({ aws_access_key_id: '', aws_secret_access_key: '' }))).toEqual({});
  });

  it('names every missing required field per type', () => {
    expect(Object.keys(parseConfigErrors({ type: 's3', role: 'import' }))).toEqual(['bucket']);
    expect(Object.keys(parseConfigErrors({ type: 's3s', role: 'import', bucket: 'b-b' }))).toEqual(['role_arn']);
    expect(Object.keys(parseConfigErrors({ type: 'gcs', role: 'import' }))).toEqual(['bucket']);
    expect(Object.keys(parseConfigErrors({ type: 'azure', role: 'import' })).sort()).toEqual(['account_key', 'account_name', 'container']);
    expect(Object.keys(parseConfigErrors({ type: 'azure_spi', role: 'import', container: 'c', account_name: 'acct' })).sort()).toEqual([
      'client_id',
      'client_secret',
      'tenant_id',
    ]);
    expect(Object.keys(parseConfigErrors({ type: 'redis', role: 'import' }))).toEqual(['host']);
    expect(parseConfigErrors({ type: 'localfiles', role: 'import', path: 'relative/dir' })).toEqual({ path: ['Path "relative/dir" must be absolute'] });
  });

  it('rejects invalid GCS credentials JSON, bad bucket names and bad regexes', () => {
    expect(Object.keys(parseConfigErrors({ type: 'gcs', role: 'import', bucket: 'b', google_application_credentials: '{nope' }))).toEqual([
      'google_application_credentials',
    ]);
    expect(Object.keys(parseConfigErrors(s3({ bucket: 'Bad_Bucket' })))).toEqual(['bucket']);
    expect(Object.keys(parseConfigErrors(s3({ regex_filter: '(' })))).toEqual(['regex_filter']);
  });

  it('getProvider throws a ValidationError for shape problems before any connection', async () => {
    const e = await fails(s3({ aws_access_key_id: 'AKIA' }));
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).fields.aws_secret_access_key).toBeTruthy();
  });

  it('getProvider refuses private endpoints naming the field, unless allowed', async () => {
    const cases: [StorageConfig, string][] = [
      [s3({ s3_endpoint: 'http://169.254.169.254/' }), 's3_endpoint'],
      [{ type: 'gcs', role: 'import', bucket: 'b', gcs_endpoint: 'http://127.0.0.1:4443' }, 'gcs_endpoint'],
      [{ type: 'azure', role: 'import', container: 'c', account_name: 'acct', account_key: 'k', azure_endpoint: 'http://[::1]:10000/a' }, 'azure_endpoint'],
      [{ type: 'redis', role: 'import', host: '0x7f.1', port: 6379 }, 'host'],
    ];
    for (const [config, field] of cases) {
      const e = await fails(config);
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).code).toBe('forbidden_endpoint');
      expect(e.message.startsWith(`${field}:`)).toBe(true);
    }
    const ok = await getProvider(s3({ s3_endpoint: 'http://127.0.0.1:9' }), { settings: { ...settings, allowedEndpoints: ['127.0.0.0/8'] }, noCache: true });
    expect(ok.type).toBe('s3');
  });

  it('caches providers per config and builds a new one when credentials change', async () => {
    const a = await getProvider(s3({ aws_access_key_id: 'A', aws_secret_access_key: '1' }), { settings });
    const b = await getProvider(s3({ aws_access_key_id: 'A', aws_secret_access_key: '1' }), { settings });
    const c = await getProvider(s3({ aws_access_key_id: 'A', aws_secret_access_key: '2' }), { settings });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });
});

describe('uriFor', () => {
  it('builds the task URI of each type', () => {
    expect(uriFor(s3(), 'dir/a b.jpg', '/')).toBe('s3://my-bucket/dir/a b.jpg');
    expect(uriFor({ ...s3(), type: 's3s' }, 'k', '/')).toBe('s3://my-bucket/k');
    expect(uriFor({ type: 'gcs', role: 'import', bucket: 'g' }, 'x/y.png', '/')).toBe('gs://g/x/y.png');
    expect(uriFor({ type: 'azure', role: 'import', container: 'c' }, 'k.txt', '/')).toBe('azure-blob://c/k.txt');
    expect(uriFor({ type: 'azure_spi', role: 'import', container: 'c' }, 'k.txt', '/')).toBe('azure-spi://c/k.txt');
    expect(uriFor({ type: 'redis', role: 'import', host: 'h' }, 'task:1', '/')).toBe('redis://1/task:1');
    expect(uriFor({ type: 'redis', role: 'export', host: 'h', db: 4 }, 'a', '/')).toBe('redis://4/a');
  });

  it('builds local-files URLs relative to the document root, encoded once per segment', () => {
    const cfg: StorageConfig = { type: 'localfiles', role: 'import', path: '/srv/files/subdir' };
    expect(uriFor(cfg, 'test_image2.png', '/srv')).toBe('/data/local-files/?d=files/subdir/test_image2.png');
    expect(uriFor(cfg, 'test_image2.png', '/')).toBe('/data/local-files/?d=srv/files/subdir/test_image2.png');
    expect(uriFor(cfg, 'a b/c+d%#?.png', '/srv')).toBe('/data/local-files/?d=files/subdir/a%20b/c%2Bd%25%23%3F.png');
  });
});
