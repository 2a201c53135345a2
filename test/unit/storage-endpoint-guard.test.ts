import { describe, expect, it } from 'vitest';
import { StorageError } from '../../shared/errors';
import { checkEndpoint, endpointHost, isAllowedEndpoint, isForbiddenAddress, pinnedLookup } from '../../shared/storage/endpoint-guard';

const fakeDns = (table: Record<string, string[]>) => async (host: string) => {
  const a = table[host];
  if (!a) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

async function refusal(endpoint: string, field = 's3_endpoint', allowed: string[] = [], dns = fakeDns({})): Promise<StorageError> {
  try {
    await checkEndpoint(endpoint, field, { allowedEndpoints: allowed, resolve: dns });
  } catch (e) {
    expect(e).toBeInstanceOf(StorageError);
    return e as StorageError;
  }
  throw new Error(`${endpoint} was accepted`);
}

describe('endpoint guard', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '100.127.255.254',
    '169.254.169.254', '169.254.0.1', '0.0.0.0', '::1', '::', 'fc00::1', 'fd12:3456::1', 'fd00:ec2::254', 'fe80::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:10.0.0.1', '64:ff9b::a9fe:a9fe', '224.0.0.1',
  ])('refuses the private/loopback/link-local address %s', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
  });

  it.each(['8.8.8.8', '52.216.0.1', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8', '192.169.0.1'])(
    'accepts the public address %s',
    (ip) => {
      expect(isForbiddenAddress(ip)).toBe(false);
    },
  );

  it.each([
    ['http://2130706433:9000', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://0x7f.0.0.1/', '127.0.0.1'],
    ['http://0x7f000001/', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['http://[::ffff:127.0.0.1]:80/', '::ffff:7f00:1'],
    ['redis://0x7f.1:6379', '127.0.0.1'],
    ['0251.0376.0251.0376', '169.254.169.254'],
  ])('normalises the numeric form %s to %s and refuses it', async (form, canonical) => {
    expect(endpointHost(form, 'f')).toBe(canonical);
    const e = await refusal(form);
    expect(e.code).toBe('forbidden_endpoint');
  });

  it('refuses a host name resolving to a private address, naming the field', async () => {
    const e = await refusal('https://minio.internal.example:9000', 'azure_endpoint', [], fakeDns({ 'minio.internal.example': ['10.0.0.5'] }));
    expect(e.code).toBe('forbidden_endpoint');
    expect(e.message).toMatch(/^azure_endpoint: 'minio.internal.example' \(resolves to 10.0.0.5\)/);
  });

  it('refuses when any one of several resolved addresses is private (no first-answer race)', async () => {
    const e = await refusal('mixed.example', 'host', [], fakeDns({ 'mixed.example': ['93.184.216.34', '127.0.0.1'] }));
    expect(e.code).toBe('forbidden_endpoint');
  });

  it('accepts a public host and returns the checked addresses for pinning', async () => {
    const r = await checkEndpoint('https://s3.example.com', 's3_endpoint', {
      allowedEndpoints: [],
      resolve: fakeDns({ 's3.example.com': ['93.184.216.34'] }),
    });
    expect(r).toEqual({ host: 's3.example.com', addresses: [{ address: '93.184.216.34', family: 4 }], allowed: false });
    const lookup = pinnedLookup(r)!;
    const got = await new Promise<string>((res) => lookup('s3.example.com', {}, (_e, a) => res(String(a))));
    expect(got).toBe('93.184.216.34');
  });

  it('allows a private endpoint listed in LABELSYNC_ALLOWED_ENDPOINTS by host or CIDR', async () => {
    expect((await checkEndpoint('http://127.0.0.1:9000', 's3_endpoint', { allowedEndpoints: ['127.0.0.1'] })).allowed).toBe(true);
    const viaCidr = await checkEndpoint('minio.local', 'host', { allowedEndpoints: ['10.0.0.0/8'], resolve: fakeDns({ 'minio.local': ['10.9.8.7'] }) });
    expect(viaCidr.addresses[0].address).toBe('10.9.8.7');
    expect(isAllowedEndpoint('x', 'fd00::5', ['fd00::/8'])).toBe(true);
    const e = await refusal('minio.local', 'host', ['192.168.0.0/16'], fakeDns({ 'minio.local': ['10.9.8.7'] }));
    expect(e.code).toBe('forbidden_endpoint');
  });

  it('reports a name that does not resolve as unreachable, and garbage as invalid', async () => {
    expect((await refusal('nope.invalid')).code).toBe('unreachable');
    expect((await refusal('http://[zz')).code).toBe('invalid');
  });
});
