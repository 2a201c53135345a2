/**
 * Local files listing order: keys come in S3's order (ascending UTF-8 bytes of the full key, as
 * sync's range diff checks with Buffer.compare), and a listing resumed from any token continues
 * exactly after it, also when the tree changed between pages.
 */
import { mkdir, mkdtemp, realpath, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../shared/errors';
import type { ListOptions, ListPage } from '../../shared/storage/types';
import { compareUtf8 } from '../../shared/storage/common';
import { createLocalProvider, type LocalFilesProvider } from '../../shared/storage/providers/local';

let root: string;
let outside: string;

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Files of the tricky tree: separators against `-` and `.`, case, unicode, astral vs U+E000, spaces. */
const FILES = [
  'a-b',
  'a/b',
  'a/b c/d e.txt',
  'a/b-/x',
  'a/b.txt',
  'a/b0',
  'a0',
  'a.txt',
  'a b.txt',
  'a b/c',
  'A',
  'Z/z',
  'z',
  'é.json',
  'é/é.json',
  'e/f/g/h.txt',
  'e/f/g0',
  'e/f-g',
  'e/f.g',
  '\u{e000}.txt',
  '\u{1f600}.txt',
  '\u{1f600}/in.txt',
  'ß',
  'deep/1/2/3/4/5.txt',
  'link-to-file',
];

async function seed(dir: string, files: string[]): Promise<void> {
  for (const f of files) {
    if (f === 'link-to-file') continue;
    await mkdir(path.join(dir, path.dirname(f)), { recursive: true });
    await writeFile(path.join(dir, f), f);
  }
}

const make = (dir: string, recursive = true): Promise<LocalFilesProvider> =>
  createLocalProvider({ path: dir, documentRoot: root, recursive, maxReadBytes: 1 << 20 });

async function keysOf(p: LocalFilesProvider, opts: ListOptions = {}): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of p.list(opts)) keys.push(...page.entries.map((e) => e.key));
  return keys;
}

/** Walks with page size 1: every key with the token returned after it. */
async function tokensOf(p: LocalFilesProvider): Promise<{ key: string; token: string | undefined }[]> {
  const out: { key: string; token: string | undefined }[] = [];
  for await (const page of p.list({ pageSize: 1 })) {
    expect(page.entries.length).toBeLessThanOrEqual(1);
    if (page.entries.length) out.push({ key: page.entries[0].key, token: page.nextToken });
  }
  return out;
}

/** One page of a fresh provider from `token` (what a next sync step does). */
async function firstPage(dir: string, token: string, pageSize: number, recursive = true): Promise<{ keys: string[]; next?: string }> {
  const p = await make(dir, recursive);
  const it = p.list({ pageSize, startToken: token })[Symbol.asyncIterator]();
  const r = await it.next();
  await it.return?.();
  return { keys: r.done ? [] : r.value.entries.map((e) => e.key), next: r.done ? undefined : r.value.nextToken };
}

beforeAll(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'labelsync-walk-order-')));
  outside = await realpath(await mkdtemp(path.join(os.tmpdir(), 'labelsync-walk-outside-')));
  await writeFile(path.join(outside, 'secret'), 'no');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('compareUtf8', () => {
  it('orders strings exactly as Buffer.compare orders their UTF-8 bytes', () => {
    const alphabet = ['a', 'b', '-', '.', '/', '0', 'A', ' ', 'é', 'ß', '\u{e000}', '\u{ffff}', '\u{fffd}', '\u{1f600}', '\u{10000}', '日'];
    let seedN = 7;
    const rnd = () => (seedN = (seedN * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const strings = Array.from({ length: 400 }, () =>
      Array.from({ length: Math.floor(rnd() * 5) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(''),
    );
    for (const a of strings.slice(0, 60)) {
      for (const b of strings) expect(Math.sign(compareUtf8(a, b)), `${a} vs ${b}`).toBe(Math.sign(byBytes(a, b)));
    }
    // The case JS `<` gets wrong: a surrogate pair against U+E000–U+FFFF.
    expect('\u{1f600}' < '\u{e000}').toBe(true);
    expect(compareUtf8('\u{1f600}', '\u{e000}')).toBeGreaterThan(0);
  });
});

describe('local files listing order', () => {
  let dir: string;
  let full: string[];

  beforeAll(async () => {
    dir = path.join(root, 'tricky');
    await seed(dir, FILES);
    // A link to a file inside the root is listed as a file; a link to a directory is not descended;
    // a link leaving the root is not listed.
    await symlink(path.join(dir, 'z'), path.join(dir, 'link-to-file'));
    await symlink(path.join(dir, 'a'), path.join(dir, 'link-to-dir'));
    await symlink(path.join(outside, 'secret'), path.join(dir, 'link-outside'));
    full = await keysOf(await make(dir));
  });

  it('lists every key once in ascending UTF-8 byte order of the full key', () => {
    expect(full).toEqual([...FILES].sort(byBytes));
    // Spot checks of the cases a per-name sort gets wrong.
    expect(full.indexOf('a-b')).toBeLessThan(full.indexOf('a/b'));
    expect(full.indexOf('a.txt')).toBeLessThan(full.indexOf('a/b'));
    expect(full.indexOf('a/b0')).toBeLessThan(full.indexOf('a0'));
    expect(full.indexOf('\u{e000}.txt')).toBeLessThan(full.indexOf('\u{1f600}.txt'));
    for (let i = 1; i < full.length; i++) expect(byBytes(full[i - 1], full[i]), `${full[i - 1]} < ${full[i]}`).toBeLessThan(0);
  });

  it('keeps the order across pages of every size', async () => {
    const p = await make(dir);
    for (const pageSize of [1, 2, 3, 7]) expect(await keysOf(p, { pageSize })).toEqual(full);
  });

  it('resumes from every token with exactly the keys after it, in a fresh provider', async () => {
    const walked = await tokensOf(await make(dir));
    expect(walked.map((w) => w.key)).toEqual(full);
    // A full last page still carries a token (the walk cannot know it was the last key yet).
    for (let i = 0; i < walked.length; i++) {
      const token = walked[i].token;
      expect(token).toBeTruthy();
      const rest = await keysOf(await make(dir), { startToken: token, pageSize: 4 });
      expect([...full.slice(0, i + 1), ...rest], `resumed after ${walked[i].key}`).toEqual(full);
    }
  });

  it('resuming page by page from tokens alone yields the full listing without repeats or gaps', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    const first = await make(dir);
    const it0 = first.list({ pageSize: 3 })[Symbol.asyncIterator]();
    const r0 = (await it0.next()).value as ListPage;
    await it0.return?.();
    seen.push(...r0.entries.map((e) => e.key));
    token = r0.nextToken;
    while (token) {
      const page = await firstPage(dir, token, 3);
      seen.push(...page.keys);
      token = page.next;
    }
    expect(seen).toEqual(full);
  });

  it('lists only the top directory files in order without recursive_scan, and resumes there', async () => {
    const top = FILES.filter((f) => !f.includes('/')).sort(byBytes);
    const p = await make(dir, false);
    expect(await keysOf(p)).toEqual(top);
    const walked = await tokensOf(p);
    expect(walked.map((w) => w.key)).toEqual(top);
    for (let i = 0; i < walked.length; i++) {
      expect(walked[i].token).toBeTruthy();
      expect([...top.slice(0, i + 1), ...(await keysOf(await make(dir, false), { startToken: walked[i].token }))]).toEqual(top);
    }
  });
});

describe('local files resume after the tree changed', () => {
  const files = ['a.txt', 'b/1.txt', 'b/2.txt', 'b/3.txt', 'b/c/4.txt', 'b0.txt', 'd/5.txt', 'e.txt'];

  async function fresh(name: string): Promise<string> {
    const dir = path.join(root, name);
    await seed(dir, files);
    return dir;
  }

  async function tokenAfter(dir: string, key: string): Promise<string> {
    const found = (await tokensOf(await make(dir))).find((w) => w.key === key);
    expect(found?.token).toBeTruthy();
    return found!.token!;
  }

  it('continues after a recorded file that was deleted between pages', async () => {
    const dir = await fresh('deleted-file');
    const token = await tokenAfter(dir, 'b/2.txt');
    await unlink(path.join(dir, 'b', '2.txt'));
    expect(await keysOf(await make(dir), { startToken: token })).toEqual(['b/3.txt', 'b/c/4.txt', 'b0.txt', 'd/5.txt', 'e.txt']);
  });

  it('continues after a recorded last file of a directory that was deleted', async () => {
    const dir = await fresh('deleted-last');
    const token = await tokenAfter(dir, 'b/c/4.txt');
    await unlink(path.join(dir, 'b', 'c', '4.txt'));
    expect(await keysOf(await make(dir), { startToken: token })).toEqual(['b0.txt', 'd/5.txt', 'e.txt']);
  });

  it('continues after a recorded directory that was removed entirely', async () => {
    const dir = await fresh('deleted-dir');
    const token = await tokenAfter(dir, 'b/1.txt');
    await rm(path.join(dir, 'b'), { recursive: true });
    expect(await keysOf(await make(dir), { startToken: token })).toEqual(['b0.txt', 'd/5.txt', 'e.txt']);
  });

  it('lists keys created after the position and not those created before it', async () => {
    const dir = await fresh('created');
    const token = await tokenAfter(dir, 'b/2.txt');
    for (const f of ['b/10.txt', 'b/2.txt.bak', 'a0.txt', 'b/2', 'c/new.txt']) {
      await mkdir(path.join(dir, path.dirname(f)), { recursive: true });
      await writeFile(path.join(dir, f), f);
    }
    // 'b/10.txt' and 'b/2' sort before 'b/2.txt' (already passed), the others after it.
    expect(await keysOf(await make(dir), { startToken: token })).toEqual(['b/2.txt.bak', 'b/3.txt', 'b/c/4.txt', 'b0.txt', 'c/new.txt', 'd/5.txt', 'e.txt']);
  });

  it('treats a recorded file replaced by a directory of the same name as passed, and lists its contents', async () => {
    const dir = await fresh('replaced');
    const token = await tokenAfter(dir, 'b0.txt');
    await unlink(path.join(dir, 'b0.txt'));
    await mkdir(path.join(dir, 'b0.txt'));
    await writeFile(path.join(dir, 'b0.txt', 'inner'), 'x');
    expect(await keysOf(await make(dir), { startToken: token })).toEqual(['b0.txt/inner', 'd/5.txt', 'e.txt']);
  });

  it('lists nothing after the last key and still fails for a missing storage directory', async () => {
    const dir = await fresh('end');
    const p = await make(dir);
    const token = await tokenAfter(dir, 'd/5.txt');
    expect(await keysOf(p, { startToken: token })).toEqual(['e.txt']);
    expect(await keysOf(p, { startToken: Buffer.from('zzz').toString('base64url') })).toEqual([]);
    await rm(dir, { recursive: true });
    const e = await keysOf(p).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).code).toBe('not_found');
  });
});
