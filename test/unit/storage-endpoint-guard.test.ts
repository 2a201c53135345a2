import { describe, expect, it } from 'vitest';
import { StorageError } from '../../shared/errors';
import { checkEndpoint, endpointHost, endpointTarget, invalidAllowEntries, isAllowedEndpoint, isForbiddenAddress, parseAllowEntry, pinnedLookup } from '../../shared/storage/endpoint-guard';
import { parseEnv } from '../../shared/config/env';

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
    expect(r).toEqual({ host: 's3.example.com', port: 443, addresses: [{ address: '93.184.216.34', family: 4 }], allowed: false });
    const lookup = pinnedLookup(r)!;
    const got = await new Promise<string>((res) => lookup('s3.example.com', {}, (_e, a) => res(String(a))));
    expect(got).toBe('93.184.216.34');
  });

  it('allows a private endpoint listed in LABELSYNC_ALLOWED_ENDPOINTS by host or CIDR', async () => {
    expect((await checkEndpoint('http://127.0.0.1:9000', 's3_endpoint', { allowedEndpoints: ['127.0.0.1'] })).allowed).toBe(true);
    const viaCidr = await checkEndpoint('minio.local', 'host', { allowedEndpoints: ['10.0.0.0/8'], resolve: fakeDns({ 'minio.local': ['10.9.8.7'] }) });
    expect(viaCidr.addresses[0].address).toBe('10.9.8.7');
    expect(isAllowedEndpoint({ host: 'x', ip: 'fd00::5' }, ['fd00::/8'])).toBe(true);
    const e = await refusal('minio.local', 'host', ['192.168.0.0/16'], fakeDns({ 'minio.local': ['10.9.8.7'] }));
    expect(e.code).toBe('forbidden_endpoint');
  });

  it('reports a name that does not resolve as unreachable, and garbage as invalid', async () => {
    expect((await refusal('nope.invalid')).code).toBe('unreachable');
    expect((await refusal('http://[zz')).code).toBe('invalid');
  });

  it.each([
    ['http://127.0.0.1:9000/x', '127.0.0.1', 9000],
    ['http://127.0.0.1', '127.0.0.1', 80],
    ['http://127.0.0.1:80', '127.0.0.1', 80],
    ['https://minio.local', 'minio.local', 443],
    ['redis://10.0.0.1', '10.0.0.1', 6379],
    ['10.0.0.1:6379', '10.0.0.1', 6379],
    ['10.0.0.1:80', '10.0.0.1', 80],
    ['10.0.0.1', '10.0.0.1', undefined],
    ['::1', '::1', undefined],
    ['[::1]:9000', '::1', 9000],
    ['http://[::1]:9000', '::1', 9000],
  ])('endpointTarget(%s) = %s port %s', (endpoint, host, port) => {
    expect(endpointTarget(endpoint, 'f')).toEqual({ host, port });
  });

  it('parses every allowlist entry form and refuses malformed ones', () => {
    expect(parseAllowEntry('minio.internal')).toEqual({ name: 'minio.internal', port: undefined });
    expect(parseAllowEntry('LocalHost:9000')).toEqual({ name: 'localhost', port: 9000 });
    expect(parseAllowEntry('127.0.0.1:9000')).toMatchObject({ cidr: { v6: false, bits: 32 }, port: 9000 });
    expect(parseAllowEntry('10.0.0.0/8')).toMatchObject({ cidr: { v6: false, bits: 8 }, port: undefined });
    expect(parseAllowEntry('10.0.0.0/8:9000')).toMatchObject({ cidr: { v6: false, bits: 8 }, port: 9000 });
    expect(parseAllowEntry('[::1]:9000')).toMatchObject({ cidr: { v6: true, bits: 128 }, port: 9000 });
    expect(parseAllowEntry('[fd00::/8]:80')).toMatchObject({ cidr: { v6: true, bits: 8 }, port: 80 });
    expect(parseAllowEntry('::1')).toMatchObject({ cidr: { v6: true, bits: 128 }, port: undefined });
    expect(parseAllowEntry('fd00::/8')).toMatchObject({ cidr: { v6: true, bits: 8 } });
    const bad = ['10.0.0.0/33', '10.0.0.0/8:0', 'host:65536', 'host:', 'host:x', '[::1', '::1]:80', '[zz::1]:80', 'a b', 'http://x', '1.2.3.4/8/9', '[::1]:80:81', 'x/8'];
    expect(invalidAllowEntries([...bad, 'ok.example', '127.0.0.1:9000'])).toEqual(bad);
  });

  it('matches host, host:port, CIDR, CIDR:port and [IPv6]:port entries on host/address and port', () => {
    const t = (host: string, port: number | undefined, ip?: string) => ({ host, ip, port });
    // A bare entry: every port of that host.
    expect(isAllowedEndpoint(t('127.0.0.2', 1234), ['127.0.0.2'])).toBe(true);
    // host:port: only that port.
    expect(isAllowedEndpoint(t('127.0.0.2', 9000), ['127.0.0.2:9000'])).toBe(true);
    expect(isAllowedEndpoint(t('127.0.0.2', 9001), ['127.0.0.2:9000'])).toBe(false);
    expect(isAllowedEndpoint(t('127.0.0.2', undefined), ['127.0.0.2:9000'])).toBe(false);
    expect(isAllowedEndpoint(t('minio.local', 9000), ['minio.local:9000'])).toBe(true);
    expect(isAllowedEndpoint(t('minio.local', 80), ['minio.local:9000'])).toBe(false);
    // CIDR and CIDR:port, on the resolved address.
    expect(isAllowedEndpoint(t('minio.local', 80, '10.1.2.3'), ['10.0.0.0/8'])).toBe(true);
    expect(isAllowedEndpoint(t('minio.local', 9000, '10.1.2.3'), ['10.0.0.0/8:9000'])).toBe(true);
    expect(isAllowedEndpoint(t('minio.local', 9001, '10.1.2.3'), ['10.0.0.0/8:9000'])).toBe(false);
    expect(isAllowedEndpoint(t('minio.local', 9000, '11.1.2.3'), ['10.0.0.0/8:9000'])).toBe(false);
    // IPv6 in brackets.
    expect(isAllowedEndpoint(t('::1', 9000), ['[::1]:9000'])).toBe(true);
    expect(isAllowedEndpoint(t('::1', 9001), ['[::1]:9000'])).toBe(false);
    expect(isAllowedEndpoint(t('x', 80, 'fd00::5'), ['[fd00::/8]:80'])).toBe(true);
    // A name entry does not cover its address, nor an address entry another name.
    expect(isAllowedEndpoint(t('127.0.0.1', 9000), ['localhost:9000'])).toBe(false);
  });

  it('checkEndpoint applies the port of the endpoint URL (scheme default included)', async () => {
    const ok = await checkEndpoint('http://127.0.0.1:9000', 's3_endpoint', { allowedEndpoints: ['127.0.0.1:9000'] });
    expect(ok).toMatchObject({ allowed: true, port: 9000 });
    expect((await checkEndpoint('http://127.0.0.1', 's3_endpoint', { allowedEndpoints: ['127.0.0.1:80'] })).allowed).toBe(true);
    const e = await refusal('http://127.0.0.1:9001', 's3_endpoint', ['127.0.0.1:9000']);
    expect(e.code).toBe('forbidden_endpoint');
    expect(e.message).toContain("add '127.0.0.1:9001' to LABELSYNC_ALLOWED_ENDPOINTS");
    const viaName = await checkEndpoint('http://minio.local:9000', 'host', { allowedEndpoints: ['10.0.0.0/8:9000'], resolve: fakeDns({ 'minio.local': ['10.9.8.7'] }) });
    expect(viaName.addresses).toEqual([{ address: '10.9.8.7', family: 4 }]);
    expect((await refusal('http://minio.local:9001', 'host', ['10.0.0.0/8:9000'], fakeDns({ 'minio.local': ['10.9.8.7'] }))).code).toBe('forbidden_endpoint');
  });

  it('a malformed LABELSYNC_ALLOWED_ENDPOINTS entry is an invalid environment naming it', () => {
    const env = parseEnv({ LABELSYNC_TABLE: 't', LABELSYNC_ALLOWED_ENDPOINTS: 'minio.local:9000, 10.0.0.0/8:9000,[::1]:9000' });
    expect(env.allowedEndpoints).toEqual(['minio.local:9000', '10.0.0.0/8:9000', '[::1]:9000']);
    expect(() => parseEnv({ LABELSYNC_TABLE: 't', LABELSYNC_ALLOWED_ENDPOINTS: '127.0.0.1,10.0.0.0/33,host:99999' })).toThrow(
      /invalid environment: LABELSYNC_ALLOWED_ENDPOINTS has malformed entries '10.0.0.0\/33', 'host:99999'/,
    );
  });
});
