import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeFileUri } from '../../shared/resolve/fileuri';
import { verifyLocalFilesToken, verifyMediaToken } from '../../shared/resolve/media-token';
import { rewriteTaskData, rewriteTaskDataSync, type RewriteContext } from '../../shared/resolve/rewrite';
import { toResolvableStorage, type ResolvableStorage } from '../../shared/resolve/storage-match';

const key = randomBytes(32);
const storages: ResolvableStorage[] = [
  { id: 1, type: 's3', bucket: 'imgs', presign: true, presignTtlMinutes: 1, inlinePresign: false },
  { id: 2, type: 'gcs', bucket: 'heartex-test', presign: false, presignTtlMinutes: 1, inlinePresign: false },
  { id: 3, type: 'azure', bucket: 'cont', presign: true, presignTtlMinutes: 1, inlinePresign: false },
  { id: 4, type: 'azure_spi', bucket: 'spi', presign: true, presignTtlMinutes: 1, inlinePresign: false },
  { id: 5, type: 's3s', bucket: 'role-bucket', presign: true, presignTtlMinutes: 1, inlinePresign: false },
];
const ctx: RewriteContext = { orgId: 'o1', baseUrl: '', signingKey: key, tokenTtlSeconds: 3600, storages, localFilesTokens: true };
const target = { taskId: 12 };

/** Checks a resolve URL and returns the URI it carries. */
function uriOf(url: string, base = ''): string {
  const m = new RegExp(`^${base}/tasks/12/resolve/\\?fileuri=([A-Za-z0-9_-]+=*)&token=(\\S+)$`).exec(url);
  expect(m, url).not.toBeNull();
  const uri = decodeFileUri(m![1])!;
  verifyMediaToken(key, { orgId: 'o1', scope: 'task', id: 12, uri }, m![2]);
  return uri;
}

describe('rewriteTaskData', () => {
  it('rewrites whole-string URIs of every scheme to resolve URLs with a valid token', () => {
    const data = {
      a: 's3://imgs/dir/a b.jpg',
      b: 'gs://heartex-test/file.pdf',
      c: 'azure-blob://cont/x/y.png',
      d: 'azure-spi://spi/k.png',
      e: 'azure_spi://spi/k2.png',
      f: 's3://role-bucket/k3.png',
    };
    const out = rewriteTaskDataSync(data, ctx, target);
    for (const k of Object.keys(data) as (keyof typeof data)[]) expect(uriOf(out[k])).toBe(data[k]);
  });

  it('replaces only the URI inside HTML, in nested objects and lists', () => {
    const data = {
      html: `<embed src='gs://heartex-test/file.pdf'/> and <img src="s3://imgs/a=b.jpg">`,
      nested: { deeper: { list: ['s3://imgs/1.jpg', 5, null, true, { x: 'text s3://imgs/2.jpg end' }] } },
      num: 3,
    };
    const out = rewriteTaskDataSync(data, ctx, target);
    const m = /^<embed src='([^']+)'\/> and <img src="([^"]+)">$/.exec(out.html)!;
    expect(uriOf(m[1])).toBe('gs://heartex-test/file.pdf');
    expect(uriOf(m[2])).toBe('s3://imgs/a=b.jpg');
    const list = out.nested.deeper.list;
    expect(uriOf(list[0] as string)).toBe('s3://imgs/1.jpg');
    expect(list.slice(1, 4)).toEqual([5, null, true]);
    const inner = /^text (\S+) end$/.exec((list[4] as { x: string }).x)!;
    expect(uriOf(inner[1])).toBe('s3://imgs/2.jpg');
    expect(out.num).toBe(3);
  });

  it('leaves URIs of unknown buckets, other schemes and scheme families untouched, and never mutates input', () => {
    const data = { a: 'gs://bad-bucket/x.jpg', b: 's3://heartex-test/x.jpg', c: 'http://imgs/x.jpg', d: ['gs://imgs/x.jpg'] };
    const frozen = JSON.parse(JSON.stringify(data));
    const out = rewriteTaskDataSync(data, ctx, target);
    expect(out).toEqual(frozen);
    expect(out).toBe(data); // unchanged trees are not copied
    const mixed = { h: '"s3://imgs/1.jpg" "s3://other/2.jpg"' };
    const r = rewriteTaskDataSync(mixed, ctx, target);
    expect(r.h).toMatch(/^"\/tasks\/12\/resolve\/\?fileuri=[^"]+" "s3:\/\/other\/2\.jpg"$/);
    expect(mixed.h).toBe('"s3://imgs/1.jpg" "s3://other/2.jpg"');
  });

  it('prefixes the public base URL when configured', () => {
    const out = rewriteTaskDataSync({ a: 's3://imgs/a.jpg' }, { ...ctx, baseUrl: 'https://ls.example.com' }, target);
    expect(uriOf(out.a, 'https://ls\\.example\\.com')).toBe('s3://imgs/a.jpg');
  });

  it('appends a local-files token bound to the org and the decoded path', () => {
    const out = rewriteTaskDataSync({ a: '/data/local-files/?d=set%201/a.jpg', b: '<img src="http://h/data/local-files/?d=x.png">' }, ctx, target);
    const t = /^\/data\/local-files\/\?d=set%201\/a\.jpg&token=(\S+)$/.exec(out.a)!;
    expect(verifyLocalFilesToken(key, 'set 1/a.jpg', t[1])).toBe('o1');
    expect(out.b).toMatch(/^<img src="http:\/\/h\/data\/local-files\/\?d=x\.png&token=[^"]+">$/);
    const off = rewriteTaskDataSync({ a: '/data/local-files/?d=a.jpg' }, { ...ctx, localFilesTokens: false }, target);
    expect(off.a).toBe('/data/local-files/?d=a.jpg');
  });

  it('inlines presigned URLs for storages that ask, once per distinct URI, falling back on failure', async () => {
    const calls: string[] = [];
    const inlineCtx: RewriteContext = {
      ...ctx,
      storages: storages.map((s) => (s.id === 1 ? { ...s, inlinePresign: true } : s)),
      presignInline: async (s, k) => {
        calls.push(`${s.id}:${k}`);
        if (k === 'fail.jpg') throw new Error('boom');
        return `https://signed.example/${encodeURIComponent(k)}?sig=1`;
      },
    };
    const out = await rewriteTaskData({ a: 's3://imgs/a b.jpg', b: ['s3://imgs/a b.jpg'], c: 'gs://heartex-test/f.pdf', d: 's3://imgs/fail.jpg' }, inlineCtx, target);
    expect(out.a).toBe('https://signed.example/a%20b.jpg?sig=1');
    expect(out.b[0]).toBe(out.a);
    expect(uriOf(out.c)).toBe('gs://heartex-test/f.pdf');
    expect(uriOf(out.d)).toBe('s3://imgs/fail.jpg');
    expect(calls.sort()).toEqual(['1:a b.jpg', '1:fail.jpg']);
    const all = await rewriteTaskData({ c: 'gs://heartex-test/f.pdf' }, { ...inlineCtx, inlinePresignAll: true }, target);
    expect(all.c).toBe('https://signed.example/f.pdf?sig=1');
  });
});

describe('toResolvableStorage', () => {
  it('reads bucket or container and LS defaults, and ignores export, redis and local storages', () => {
    expect(toResolvableStorage({ id: 1, type: 's3', role: 'import', fields: { bucket: 'b' } })).toEqual({
      id: 1, type: 's3', bucket: 'b', presign: true, presignTtlMinutes: 1, inlinePresign: false,
    });
    expect(toResolvableStorage({ id: 2, type: 'azure', role: 'import', fields: { container: 'c', presign: false, presign_ttl: 15, inline_presign: true } })).toEqual({
      id: 2, type: 'azure', bucket: 'c', presign: false, presignTtlMinutes: 15, inlinePresign: true,
    });
    expect(toResolvableStorage({ id: 3, type: 's3', role: 'export', fields: { bucket: 'b' } })).toBeUndefined();
    expect(toResolvableStorage({ id: 4, type: 'redis', role: 'import', fields: {} })).toBeUndefined();
    expect(toResolvableStorage({ id: 5, type: 'localfiles', role: 'import', fields: { path: '/x' } })).toBeUndefined();
  });
});
