/**
 * The one contract every StorageProvider keeps, run against each backend on its real emulator
 * (test/contract/<backend>.test.ts call `runProviderContract` with a backend description).
 * Seeds the bulk objects (BULK by default, fewer with a smaller page size where an emulator is
 * slow) plus a few trees once per backend and reuses them across cases. A case a backend cannot
 * support is skipped for that backend with the reason it declares in `notApplicable`.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it, vi, type TestContext } from 'vitest';
import { StorageError, ValidationError } from '../../shared/errors';
import type { ListPage, StorageConfig, StorageProvider } from '../../shared/storage/types';
import { type GetProviderOptions } from '../../shared/storage/registry';
import { testRegistry } from './helpers';
import { compareUtf8, mapLimit } from '../../shared/storage/common';
const { getProvider } = testRegistry();

export interface ContractBackend {
  /** Config of the seeded bucket/container/db/directory, no prefix. */
  base: StorageConfig;
  /** Config scoped to `prefix` (cloud/redis: prefix or path; local files: a sub-directory). */
  scoped(prefix: string, extra?: Partial<StorageConfig>): StorageConfig;
  /** Listed key of a seeded full key when scoped to `prefix`. */
  keyOf(prefix: string, fullKey: string): string;
  /** An existing but empty bucket/container/db/directory. */
  empty: StorageConfig;
  /** A bucket/container that does not exist (undefined: the backend has no such notion). */
  missing?: { config: StorageConfig; name: string };
  /** Wrong credentials and the secrets that must never appear in the error. */
  wrongCredentials?: { config: StorageConfig; secrets: string[]; options?: GetProviderOptions };
  /** Provider options (settings, hooks) for every getProvider call. */
  options: GetProviderOptions;
  /** Presign semantics of the type. */
  presign: 'http' | 'local' | 'unsupported';
  /** Does the emulator verify signatures and expiry of presigned URLs? */
  verifiesSignatures: boolean;
  /** Document root, for local presign URLs. */
  documentRoot?: string;
  /** Folders exist (delimiter `/` listing); false for Redis. */
  hierarchical: boolean;
  /** Folder placeholder objects (`x/`) can be created. */
  placeholders: boolean;
  /** Import validation with a prefix requires at least one object under it (S3, GCS, Azure). */
  importNeedsObject: boolean;
  /** Bulk listing size: `count` objects listed in pages of `pageSize` (default BULK, 1,000). */
  bulk?: { count: number; pageSize?: number };
  /** Why a case does not apply to this backend (required when its field above is absent). */
  notApplicable?: Partial<Record<NotApplicableCase, string>>;
  /** Tears down per-backend resources. */
  cleanup?(): Promise<void>;
}

/** Cases a backend may declare not applicable, with a reason. */
export type NotApplicableCase = 'missing' | 'wrongCredentials' | 'presignRefusal';

export const BULK = 2500;
const seededMarker = (bulk: number) => `_seeded/contract-v1-${bulk}`;
const bulkKey = (i: number) => `bulk/${String(i).padStart(5, '0')}.txt`;
const TREE: Record<string, string> = {
  'tree/a.json': '{"text":"a"}',
  'tree/b.txt': 'bee',
  'tree/sub/c.json': '{"text":"c"}',
  'tree/sub/deep/d.json': '{"text":"d"}',
};
/** Keys that break naive URL handling (Label Studio #6472). */
export const SPECIAL_KEYS = [
  'special/with space.txt',
  'special/plus+sign.txt',
  'special/per%cent%20.txt',
  'special/hash#tag.txt',
  // No '&': s3rver XML-escapes it twice in listings (an emulator bug; AWS returns it verbatim).
  'special/q?mark=1.txt',
  'special/ünïcødé/日本語 ファイル.txt',
  'special/nested/a b/c+d (1).txt',
];
const bodyOf = (key: string) => `body of ${key}`;

async function collect(p: StorageProvider, opts: Parameters<StorageProvider['list']>[0] = {}): Promise<{ pages: ListPage[]; keys: string[] }> {
  const pages: ListPage[] = [];
  for await (const page of p.list(opts)) pages.push(page);
  return { pages, keys: pages.flatMap((pg) => pg.entries.map((e) => e.key)) };
}

function alterSignature(url: string): string {
  return url.replace(/([?&](?:X-Amz-Signature|X-Goog-Signature|sig)=)(.)/, (_m, p: string, c: string) => `${p}${c === 'a' ? 'b' : 'a'}`);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** Runs the provider contract for one backend. */
export function runProviderContract(name: string, makeBackend: () => Promise<ContractBackend>): void {
  describe(`${name} provider contract`, () => {
    let b: ContractBackend;
    let root: StorageProvider;
    const get = (config: StorageConfig, extra: GetProviderOptions = {}) => getProvider(config, { ...b.options, noCache: true, ...extra });
    const opened: StorageProvider[] = [];
    const bulkCount = () => b.bulk?.count ?? BULK;
    const pageSize = () => b.bulk?.pageSize;
    /** Skips the running case with the backend's declared reason; a case left undeclared fails. */
    const notApplicable = (ctx: TestContext, c: NotApplicableCase): never => {
      const why = b.notApplicable?.[c];
      if (!why) throw new Error(`${name}: declare why '${c}' does not apply (ContractBackend.notApplicable)`);
      return ctx.skip(`${name}: ${why}`);
    };
    const open = async (config: StorageConfig) => {
      const p = await get(config);
      opened.push(p);
      return p;
    };

    beforeAll(async () => {
      b = await makeBackend();
      root = await open(b.base);
      const seed: [string, string][] = [
        ...Array.from({ length: bulkCount() }, (_, i): [string, string] => [bulkKey(i), bodyOf(bulkKey(i))]),
        ...Object.entries(TREE),
        ...SPECIAL_KEYS.map((k): [string, string] => [k, bodyOf(k)]),
      ];
      if (b.placeholders) seed.push(['tree/folder/', '']);
      // Buckets are reused across runs and across the S3 variants: seed once, mark it done.
      const seeded = await root.head(seededMarker(bulkCount())).then(
        () => true,
        () => false,
      );
      if (!seeded) {
        await mapLimit(seed, 32, ([k, v]) => root.write(k, v));
        await root.write(seededMarker(bulkCount()), 'v1');
      }
    });

    afterAll(async () => {
      await Promise.allSettled(opened.map((p) => p.close()));
      await b?.cleanup?.();
    });

    it('lists more than one page, each of at most 1,000 entries with sizes, and every key once', async () => {
      const p = await open(b.scoped('bulk'));
      const { pages, keys } = await collect(p, { pageSize: pageSize() });
      expect(pages.length).toBeGreaterThanOrEqual(2);
      for (const pg of pages) expect(pg.entries.length).toBeLessThanOrEqual(pageSize() ?? 1000);
      const expected = Array.from({ length: bulkCount() }, (_, i) => b.keyOf('bulk', bulkKey(i)));
      expect(new Set(keys)).toEqual(new Set(expected));
      if (p.ordered) {
        expect(keys).toEqual([...expected].sort());
      }
      const sample = pages[0].entries[0];
      expect(sample.size).toBe(Buffer.byteLength(bodyOf(`bulk/${sample.key.replace(/^bulk\//, '')}`)));
      expect(pages.at(-1)?.nextToken).toBeUndefined();
    });

    it('honours a smaller page size', async () => {
      const p = await open(b.scoped('bulk'));
      const smaller = Math.min(100, Math.floor((pageSize() ?? 1000) / 2));
      const first = await p.list({ pageSize: smaller })[Symbol.asyncIterator]().next();
      expect(first.done).toBe(false);
      expect(first.value!.entries.length).toBeLessThanOrEqual(smaller);
      expect(first.value!.nextToken).toBeTruthy();
    });

    it('resumes a listing from a token in a fresh provider instance (as another process would)', async () => {
      const p1 = await open(b.scoped('bulk'));
      const it1 = p1.list({ pageSize: pageSize() })[Symbol.asyncIterator]();
      const first = (await it1.next()).value as ListPage;
      await it1.return?.();
      expect(first.nextToken).toBeTruthy();
      const p2 = await open(b.scoped('bulk'));
      const rest = await collect(p2, { startToken: first.nextToken, pageSize: pageSize() });
      const all = [...first.entries.map((e) => e.key), ...rest.keys];
      expect(new Set(all).size).toBe(bulkCount());
      if (p2.ordered) {
        expect(all.length).toBe(bulkCount());
        expect(rest.keys[0] > first.entries.at(-1)!.key).toBe(true);
      }
    });

    it('lists a range (startAfter, endAt] exactly: split at a key, between keys and at a folder-like string, the ranges join without gap or overlap', async (ctx) => {
      const p = await open(b.scoped('bulk', { recursive_scan: true }));
      if (!p.ordered) return ctx.skip(`${name}: lists in no order, so a key range means nothing (range listing applies to ordered backends)`);
      const all = (await collect(p, { pageSize: pageSize() })).keys;
      const at = all[Math.floor(all.length / 3)];
      // A string between two neighbouring keys that is no key itself ('…/00833.txt' < '…/00833.txu').
      const between = `${all[Math.floor((2 * all.length) / 3)].slice(0, -1)}u`;
      const splits = [at, between];
      const bounds: (string | undefined)[] = [undefined, ...splits, undefined];
      const ranges: string[][] = [];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const r = await collect(p, { startAfter: bounds[i], endAt: bounds[i + 1], pageSize: pageSize() });
        for (const k of r.keys) {
          if (bounds[i] !== undefined) expect(k > bounds[i]!).toBe(true);
          if (bounds[i + 1] !== undefined) expect(k <= bounds[i + 1]!).toBe(true);
        }
        expect(r.pages.at(-1)?.nextToken).toBeUndefined();
        ranges.push(r.keys);
      }
      expect(ranges[0].at(-1)).toBe(at);
      expect(ranges.flat()).toEqual(all);
      // A folder-like bound ('x/' sorts before every key under x/) and a bound past every key.
      const under = await collect(p, { startAfter: all[0].includes('/') ? all[0].slice(0, all[0].lastIndexOf('/') + 1) : '', endAt: all[4], pageSize: pageSize() });
      expect(under.keys).toEqual(all.slice(0, 5));
      expect((await collect(p, { startAfter: `${all.at(-1)}~` })).keys).toEqual([]);
    });

    it('resumes a range listing from a token without leaving the range', async (ctx) => {
      const p = await open(b.scoped('bulk'));
      if (!p.ordered) return ctx.skip(`${name}: lists in no order (range listing applies to ordered backends)`);
      const all = (await collect(p, { pageSize: pageSize() })).keys;
      const [after, end] = [all[10], all[Math.min(all.length - 1, 10 + 2 * (pageSize() ?? 1000) - 7)]];
      const small = Math.min(100, Math.floor((pageSize() ?? 1000) / 2));
      const it1 = p.list({ startAfter: after, endAt: end, pageSize: small })[Symbol.asyncIterator]();
      const first = (await it1.next()).value as ListPage;
      await it1.return?.();
      const rest = await collect(p, { startAfter: after, endAt: end, startToken: first.nextToken, pageSize: small });
      expect([...first.entries.map((e) => e.key), ...rest.keys]).toEqual(all.slice(11, all.indexOf(end) + 1));
    });

    it('lists only direct children without recursive_scan and everything below with it; never folder placeholders', async () => {
      const flat = await collect(await open(b.scoped('tree', { recursive_scan: false })));
      const deep = await collect(await open(b.scoped('tree', { recursive_scan: true })));
      const all = Object.keys(TREE).map((k) => b.keyOf('tree', k));
      expect(new Set(deep.keys)).toEqual(new Set(all));
      if (b.hierarchical) {
        expect(new Set(flat.keys)).toEqual(new Set([b.keyOf('tree', 'tree/a.json'), b.keyOf('tree', 'tree/b.txt')]));
      } else {
        expect(new Set(flat.keys)).toEqual(new Set(all));
      }
      for (const k of [...flat.keys, ...deep.keys]) expect(k.endsWith('/')).toBe(false);
    });

    it('lists only keys under the prefix', async () => {
      const { keys } = await collect(await open(b.scoped('special', { recursive_scan: true })));
      expect(new Set(keys)).toEqual(new Set(SPECIAL_KEYS.map((k) => b.keyOf('special', k))));
    });

    it("resumes after any key and after bounds holding !'()* (SigV4 escapes them; a range boundary can be any key)", async (ctx) => {
      const p = await open(b.scoped('special', { recursive_scan: true }));
      if (!p.ordered) return ctx.skip(`${name}: lists in no order (range listing applies to ordered backends)`);
      const all = (await collect(p)).keys;
      expect(all.length).toBe(SPECIAL_KEYS.length);
      for (const [i, k] of all.entries()) expect((await collect(p, { startAfter: k })).keys).toEqual(all.slice(i + 1));
      const nested = all.find((k) => k.includes('(1)'))!;
      for (const ch of ['!', "'", '(', ')', '*']) {
        const bound = `${nested.slice(0, nested.indexOf('(1)'))}${ch}`;
        const after = all.filter((k) => compareUtf8(k, bound) > 0);
        expect((await collect(p, { startAfter: bound })).keys, bound).toEqual(after);
      }
    });

    it('applies regex_filter with re.match semantics (anchored at the start, not at the end) to the key', async () => {
      const list = async (re: string) => new Set((await collect(await open(b.scoped('tree', { recursive_scan: true, regex_filter: re })))).keys);
      const json = new Set(['tree/a.json', 'tree/sub/c.json', 'tree/sub/deep/d.json'].map((k) => b.keyOf('tree', k)));
      expect(await list('.*\\.json')).toEqual(json);
      expect(await list('.*\\.js')).toEqual(json); // not anchored at the end
      expect(await list('json')).toEqual(new Set()); // anchored at the start
      expect(await list('')).toEqual(new Set(Object.keys(TREE).map((k) => b.keyOf('tree', k))));
      const e = await rejection(get(b.scoped('tree', { regex_filter: '(unclosed' })));
      expect(e).toBeInstanceOf(ValidationError);
      expect(Object.keys((e as ValidationError).fields)).toEqual(['regex_filter']);
    });

    it('round-trips keys with spaces, +, %, #, ?, unicode and nested folders', async () => {
      const p = await open(b.scoped('special', { recursive_scan: true }));
      for (const full of SPECIAL_KEYS) {
        const r = await p.read(b.keyOf('special', full));
        expect(await text(r.body)).toBe(bodyOf(full));
      }
    });

    it('writes, heads, reads (whole and ranged) and deletes one object; deleting a missing one is fine', async () => {
      // Unique per run: S3 variants share a bucket and run in parallel workers.
      const key = `rt/${name.replace(/\W+/g, '-')}-${process.pid}/x y+z%.json`;
      const body = '{"hello":"wörld"}';
      await root.write(key, body, { contentType: 'application/json' });
      const h = await root.head(key);
      expect(h.size).toBe(Buffer.byteLength(body));
      const r = await root.read(key);
      expect(await text(r.body)).toBe(body);
      const part = await root.read(key, { range: { start: 2, end: 6 } });
      expect(await text(part.body)).toBe(Buffer.from(body).subarray(2, 7).toString());
      expect(part.contentLength).toBe(5);
      await root.delete(key);
      const gone = await rejection(root.read(key));
      expect(gone).toBeInstanceOf(StorageError);
      expect((gone as StorageError).code).toBe('not_found');
      await root.delete(key);
    });

    it('refuses to read an object over maxBytes with too_large', async () => {
      const e = await rejection(root.read('tree/sub/c.json', { maxBytes: 5 }));
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).code).toBe('too_large');
      expect((e as StorageError).message).toMatch(/too large.*limit 5 bytes/);
    });

    it('lists nothing in an empty bucket and validates it for export', async () => {
      const p = await open(b.empty);
      const { keys } = await collect(p);
      expect(keys).toEqual([]);
      await p.validate('export');
    });

    it('validates the seeded storage for import and export', async () => {
      await root.validate('import');
      const scoped = await open(b.scoped('tree'));
      await scoped.validate('import');
      if (b.importNeedsObject) {
        const none = await open(b.scoped('nothing-here'));
        const e = await rejection(none.validate('import'));
        expect((e as StorageError).code).toBe('not_found');
        await none.validate('export');
      }
    });

    it('reports a missing bucket/container with a specific reason', async (ctx) => {
      if (!b.missing) return notApplicable(ctx, 'missing');
      const p = await open(b.missing.config);
      const e = await rejection(p.validate('import'));
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).code).toBe('not_found');
      expect((e as StorageError).message).toContain(`'${b.missing.name}' does not exist`);
      const le = await rejection(collect(p));
      expect((le as StorageError).code).toBe('not_found');
    });

    it('reports wrong credentials clearly without leaking a secret', async (ctx) => {
      if (!b.wrongCredentials) return notApplicable(ctx, 'wrongCredentials');
      const p = await get(b.wrongCredentials.config, b.wrongCredentials.options);
      opened.push(p);
      const e = await rejection(p.validate('import'));
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).code).toBe('access_denied');
      for (const s of b.wrongCredentials.secrets) expect((e as Error).message).not.toContain(s);
    });

    it('presigns per the type: fetchable URL with the same bytes, or local-files URL, or unsupported', async () => {
      const p = await open(b.scoped('special', { recursive_scan: true }));
      if (b.presign === 'unsupported') {
        const e = await rejection(p.presign(b.keyOf('special', SPECIAL_KEYS[0]), 60));
        expect((e as StorageError).code).toBe('unsupported');
        return;
      }
      for (const full of SPECIAL_KEYS) {
        const url = await p.presign(b.keyOf('special', full), 300);
        if (b.presign === 'local') {
          expect(url.startsWith('/data/local-files/?d=')).toBe(true);
          const d = new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('d')!;
          expect((await readFile(path.join(b.documentRoot!, d))).toString()).toBe(bodyOf(full));
        } else {
          const res = await fetch(url);
          expect(res.status, `${full} → ${url}`).toBe(200);
          expect(await res.text()).toBe(bodyOf(full));
        }
      }
    });

    it('presigned URLs are refused once altered or expired (where the emulator checks signatures)', async (ctx) => {
      if (b.presign !== 'http' || !b.verifiesSignatures) return notApplicable(ctx, 'presignRefusal');
      const key = b.keyOf('tree', 'tree/a.json');
      const p = await open(b.scoped('tree'));
      const good = await p.presign(key, 300);
      const altered = alterSignature(good);
      expect(altered).not.toBe(good);
      expect((await fetch(altered)).status).toBe(403);
      // Signed 5 s ago (only Date is faked, for the signing): for 1 s it has expired, for 300 s it works.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 5_000 });
      let short: string;
      let long: string;
      try {
        [short, long] = [await p.presign(key, 1), await p.presign(key, 300)];
      } finally {
        vi.useRealTimers();
      }
      expect((await fetch(short)).status).toBe(403);
      const ok = await fetch(long);
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
    });
  });
}
