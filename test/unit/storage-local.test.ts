/**
 * Local files provider specifics: path checks, traversal and symlink refusal, resume after a key,
 * and a walk that streams pages.
 */
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError, ValidationError } from '../../shared/errors';
import { mapLimit } from '../../shared/storage/common';
import type { ListPage } from '../../shared/storage/types';
import { createLocalProvider, LocalFilesProvider, normalizeLocalPath } from '../../shared/storage/providers/local';

let root: string;
let outside: string;
const make = (p: string, extra: { recursive?: boolean; regexFilter?: string } = {}) =>
  createLocalProvider({ path: p, documentRoot: root, recursive: extra.recursive ?? true, regexFilter: extra.regexFilter, maxReadBytes: 1 << 20 });

async function pathError(p: string): Promise<string> {
  try {
    await make(p);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    const { fields } = e as ValidationError;
    return (fields.path ?? fields.non_field_errors)[0];
  }
  throw new Error(`accepted ${p}`);
}

beforeAll(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'labelsync-local-')));
  outside = await realpath(await mkdtemp(path.join(os.tmpdir(), 'labelsync-outside-')));
  await mkdir(path.join(root, 'ds', 'sub'), { recursive: true });
  await mkdir(path.join(root, 'ds-private'), { recursive: true });
  await writeFile(path.join(root, 'ds', 'a.txt'), 'a');
  await writeFile(path.join(root, 'ds', 'sub', 'b.txt'), 'b');
  await writeFile(path.join(root, 'ds-private', 'secret.txt'), 'no');
  await writeFile(path.join(outside, 'passwd'), 'root:x');
  await symlink(path.join(outside, 'passwd'), path.join(root, 'ds', 'evil-link'));
  await symlink(outside, path.join(root, 'ds', 'evil-dir'));
  await symlink(outside, path.join(root, 'escape'));
  await writeFile(path.join(root, 'afile'), 'x');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('local files storage path', () => {
  it('normalises saved paths like Label Studio', () => {
    expect(normalizeLocalPath(' /data/x/ ')).toBe('/data/x');
    expect(normalizeLocalPath('C:\\data\\x\\')).toBe('C:/data/x');
    expect(normalizeLocalPath('/data//a/../b/')).toBe('/data/b');
  });

  it('refuses empty, relative, missing, root-equal, outside-root, symlinked-outside and non-directory paths', async () => {
    expect(await pathError('')).toBe('Path must be set for Local Files storage');
    expect(await pathError('rel/dir')).toMatch(/must be absolute/);
    expect(await pathError(path.join(root, 'nope'))).toBe(`Absolute local path "${path.join(root, 'nope')}" does not exist`);
    expect(await pathError(root)).toMatch(/cannot be the same as LOCAL_FILES_DOCUMENT_ROOT=.*Please add a subdirectory/);
    expect(await pathError(outside)).toMatch(/must be a subdirectory of LOCAL_FILES_DOCUMENT_ROOT/);
    expect(await pathError(path.join(root, 'escape'))).toMatch(/must be a subdirectory/);
    expect(await pathError(path.join(root, 'afile'))).toMatch(/is not a directory/);
    expect(await pathError(`${root}/../${path.basename(outside)}`)).toMatch(/must be a subdirectory/);
  });

  it('accepts a subdirectory, with a trailing slash or backslashes', async () => {
    expect((await make(`${root}/ds/`)).dir).toBe(path.join(root, 'ds'));
  });

  it('refuses to build (so every route fails) while local files serving is disabled', async () => {
    const e = await createLocalProvider({ path: path.join(root, 'ds'), documentRoot: root, recursive: true, maxReadBytes: 1, servingEnabled: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).fields.path[0]).toMatch(/^Serving local files from the host filesystem can be a security risk/);
    await (await make(path.join(root, 'ds'))).validate('import');
  });
});

describe('local files key access', () => {
  it('refuses keys that leave the storage path or the document root on read, write, delete and presign', async () => {
    const p = await make(path.join(root, 'ds'));
    for (const key of ['../ds-private/secret.txt', '/etc/passwd', 'sub/../../ds-private/secret.txt', 'evil-link', 'evil-dir/passwd']) {
      for (const op of [() => p.read(key), () => p.write(key, 'x'), () => p.delete(key), () => p.presign(key)]) {
        const e = await op().then(
          () => undefined,
          (x: unknown) => x,
        );
        expect(e, `${key}`).toBeInstanceOf(StorageError);
        expect(['access_denied', 'not_found']).toContain((e as StorageError).code);
      }
    }
    // Nothing was written outside.
    expect((await p.read('a.txt')).contentLength).toBe(1);
  });

  it('never lists a symlink that points outside the document root', async () => {
    const p = await make(path.join(root, 'ds'));
    const keys: string[] = [];
    for await (const page of p.list()) keys.push(...page.entries.map((e) => e.key));
    expect(keys.sort()).toEqual(['a.txt', 'sub/b.txt']);
  });

  it('resumes after the last key of a page without gaps or repeats (unchanged tree)', async () => {
    const dir = path.join(root, 'resume');
    await mkdir(dir);
    const files = Array.from({ length: 250 }, (_, i) => `d${i % 5}/f${i}.txt`);
    await mapLimit(files, 32, async (f) => {
      await mkdir(path.join(dir, path.dirname(f)), { recursive: true });
      await writeFile(path.join(dir, f), f);
    });
    const p = await make(dir);
    const seen: string[] = [];
    let token: string | undefined;
    let rounds = 0;
    do {
      // A fresh provider per page: the token alone carries the position.
      const fresh = await make(dir);
      const it = fresh.list({ pageSize: 40, startToken: token })[Symbol.asyncIterator]();
      const r = await it.next();
      await it.return?.();
      const page = r.value as ListPage;
      seen.push(...page.entries.map((e) => e.key));
      token = page.nextToken;
      rounds++;
    } while (token);
    expect(p).toBeInstanceOf(LocalFilesProvider);
    expect(rounds).toBeGreaterThanOrEqual(7);
    expect(seen.length).toBe(files.length);
    expect(new Set(seen)).toEqual(new Set(files));
  });
});

// Its heap growth over 100k files is a bench target (bench/storage.ts), not a test assertion.
describe('local files walk', () => {
  it('walks the tree in pages of at most pageSize, every file once', async () => {
    const dir = path.join(root, 'walk');
    const N = 3_000;
    const perDir = 500;
    await mapLimit(
      Array.from({ length: N }, (_, i) => i),
      64,
      async (i) => {
        await mkdir(path.join(dir, `d${Math.floor(i / perDir)}`), { recursive: true });
        await writeFile(path.join(dir, `d${Math.floor(i / perDir)}`, `f${i}.json`), '');
      },
    );
    const p = await make(dir);
    const sizes: number[] = [];
    const keys = new Set<string>();
    for await (const page of p.list({ pageSize: 250 })) {
      sizes.push(page.entries.length);
      for (const e of page.entries) keys.add(e.key);
    }
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(250);
    expect(keys.size).toBe(N);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(N);
  });
});
