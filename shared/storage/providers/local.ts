/**
 * Local files provider (`localfiles`): a directory under LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT.
 * Keys are `/`-separated paths relative to the storage path. The walk streams with
 * `fs.promises.opendir` (one open directory handle per level, no directory read into an array)
 * in the file system's own order, so `ordered` is false. Every file operation resolves symlinks
 * and refuses a target outside the document root.
 */
import { createReadStream } from 'node:fs';
import type { Dir } from 'node:fs';
import { mkdir, opendir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StorageError, ValidationError } from '../../errors';
import type {
  HeadResult,
  ListOptions,
  ListPage,
  ObjectEntry,
  ReadOptions,
  ReadResult,
  StorageProvider,
  StorageRole,
  WriteOptions,
} from '../types';
import { compileKeyFilter, pageSizeOf, type KeyMatcher } from '../key-filter';
import { encodeKeyPath, mapLimit, readWindow } from '../common';

export interface LocalProviderOptions {
  /** Storage `path` as configured. */
  path: string;
  documentRoot: string;
  regexFilter?: string | null;
  recursive: boolean;
  maxReadBytes: number;
  /** LOCAL_FILES_SERVING_ENABLED; false makes `validate` fail as in spec §5.1 (default true). */
  servingEnabled?: boolean;
}

/** Spec §5.1 step 5. */
export const SERVING_DISABLED_MESSAGE =
  'Serving local files from the host filesystem can be a security risk, so LOCAL_FILES_SERVING_ENABLED is disabled by default. ' +
  'To enable it, set LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT to the directory holding your data.';

/** Is `child` equal to or inside `parent` (both absolute, normalised)? Separator-aware. */
export function isWithin(parent: string, child: string): boolean {
  if (child === parent) return true;
  const p = parent.endsWith(path.sep) ? parent : parent + path.sep;
  return child.startsWith(p);
}

/** Label Studio's normalisation of a saved path: trimmed, `\` → `/`, no trailing separators, normpath. */
export function normalizeLocalPath(p: string): string {
  const t = p.trim().replace(/\\/g, '/');
  if (!t) return '';
  const n = path.posix.normalize(t);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/**
 * Checks a storage path against the document root (spec §5.1 messages) and returns the real
 * (symlink-resolved) storage path and root.
 * @throws ValidationError on `path`.
 */
export async function resolveStoragePath(rawPath: string, documentRoot: string): Promise<{ dir: string; root: string }> {
  const p = normalizeLocalPath(rawPath ?? '');
  if (!p) throw ValidationError.field('path', 'Path must be set for Local Files storage');
  if (!path.isAbsolute(p)) throw ValidationError.field('path', `Path "${p}" must be absolute`);
  let root: string;
  try {
    root = await realpath(documentRoot);
  } catch {
    throw ValidationError.field('path', `LOCAL_FILES_DOCUMENT_ROOT="${documentRoot}" does not exist`);
  }
  let dir: string;
  try {
    dir = await realpath(p);
  } catch {
    throw ValidationError.field('path', `Absolute local path "${p}" does not exist`);
  }
  const rootText = documentRoot;
  if (dir === root) {
    throw ValidationError.field(
      'path',
      `Absolute local path "${p}" cannot be the same as LOCAL_FILES_DOCUMENT_ROOT="${rootText}" by security reasons. ` +
        `Please add a subdirectory. For example: "${path.posix.join(rootText, 'dataset1')}".`,
    );
  }
  if (!isWithin(root, dir)) {
    throw ValidationError.field(
      'path',
      `Absolute local path "${p}" must be a subdirectory of LOCAL_FILES_DOCUMENT_ROOT="${rootText}" ` +
        `(symlinks resolved). Please add a path under the document root.`,
    );
  }
  const st = await stat(dir);
  if (!st.isDirectory()) throw ValidationError.field('path', `Absolute local path "${p}" is not a directory`);
  return { dir, root };
}

interface Frame {
  dir: Dir;
  /** Key prefix of this directory relative to the storage path ('' or 'a/b/'). */
  rel: string;
  /** Remaining resume components below this directory (undefined: not resuming here). */
  resume?: string[];
  /** Absolute directory path, to reopen when the resume name vanished. */
  abs: string;
}

/** Decodes a resume token: the last key considered. */
function parseToken(token: string | undefined): string[] | undefined {
  if (!token) return undefined;
  try {
    const key = Buffer.from(token, 'base64url').toString('utf8');
    return key ? key.split('/') : undefined;
  } catch {
    return undefined;
  }
}

/** The `localfiles` StorageProvider. Construct through `createLocalProvider`. */
export class LocalFilesProvider implements StorageProvider {
  readonly type = 'localfiles' as const;
  readonly scheme = 'localfiles';
  readonly ordered = false;
  readonly bucket: string;
  private readonly filter: KeyMatcher;

  constructor(
    /** Real storage directory. */
    readonly dir: string,
    /** Real document root. */
    readonly root: string,
    private readonly opts: LocalProviderOptions,
  ) {
    this.bucket = dir;
    this.filter = compileKeyFilter(opts.regexFilter);
  }

  async *list(options: ListOptions = {}): AsyncIterable<ListPage> {
    const pageSize = pageSizeOf(options.pageSize);
    const resume = parseToken(options.startToken);
    let scanned: string[] = [];
    for await (const key of this.walk(resume)) {
      options.signal?.throwIfAborted();
      scanned.push(key);
      if (scanned.length >= pageSize) {
        const entries = await this.describe(scanned);
        const last = scanned[scanned.length - 1];
        scanned = [];
        yield { entries, nextToken: Buffer.from(last, 'utf8').toString('base64url') };
      }
    }
    yield { entries: await this.describe(scanned) };
  }

  /** stat()s the page's matching files (bounded concurrency); vanished files are dropped. */
  private async describe(keys: string[]): Promise<ObjectEntry[]> {
    const matching = keys.filter(this.filter);
    const out = await mapLimit(matching, 16, async (key): Promise<ObjectEntry | undefined> => {
      try {
        const st = await stat(path.join(this.dir, key));
        if (!st.isFile() || st.nlink > 1) return undefined;
        return { key, size: st.size, etag: `${Math.floor(st.mtimeMs * 1000).toString(16)}-${st.size.toString(16)}`, lastModified: st.mtime };
      } catch {
        return undefined;
      }
    });
    return out.filter((e): e is ObjectEntry => e !== undefined);
  }

  /**
   * Depth-first walk yielding file keys. With `resume` (the components of the last key
   * considered) each level skips entries up to and including the recorded name. Directory
   * order is the file system's and is stable while a directory is unchanged; when the recorded
   * name vanished the directory is walked again from its start (at-least-once, never a gap).
   */
  private async *walk(resume: string[] | undefined): AsyncGenerator<string> {
    const stack: Frame[] = [{ dir: await this.openDir(this.dir), rel: '', resume, abs: this.dir }];
    try {
      while (stack.length) {
        const top = stack[stack.length - 1];
        if (top.resume && top.resume.length) {
          const [name, ...rest] = top.resume;
          top.resume = undefined;
          let found = false;
          for (let d = await top.dir.read(); d; d = await top.dir.read()) {
            if (d.name !== name) continue;
            found = true;
            if (rest.length && d.isDirectory()) {
              stack.push({ dir: await this.openDir(path.join(top.abs, name)), rel: `${top.rel}${name}/`, resume: rest, abs: path.join(top.abs, name) });
            }
            break;
          }
          if (!found) {
            await top.dir.close();
            top.dir = await this.openDir(top.abs);
          }
          continue;
        }
        const d = await top.dir.read();
        if (!d) {
          await top.dir.close();
          stack.pop();
          continue;
        }
        const key = top.rel + d.name;
        if (d.isFile()) yield key;
        else if (d.isSymbolicLink()) {
          // Follow a link only to a file inside the document root; linked directories are not
          // descended (loops) — list their files through their own storage instead.
          if (await this.isContainedFile(path.join(top.abs, d.name))) yield key;
        } else if (d.isDirectory() && this.opts.recursive) {
          stack.push({ dir: await this.openDir(path.join(top.abs, d.name)), rel: `${key}/`, abs: path.join(top.abs, d.name) });
        }
      }
    } finally {
      for (const f of stack) await f.dir.close().catch(() => undefined);
    }
  }

  private async openDir(p: string): Promise<Dir> {
    try {
      return await opendir(p, { bufferSize: 128 });
    } catch (e) {
      throw new StorageError('not_found', `directory '${p}' does not exist or cannot be read`, { cause: e });
    }
  }

  private async isContainedFile(p: string): Promise<boolean> {
    try {
      const real = await realpath(p);
      return isWithin(this.root, real) && (await stat(real)).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Absolute path of a key after refusing absolute keys, `..` escapes and symlinks leaving the
   * document root. `mustExist=false` checks the nearest existing ancestor instead (writes).
   */
  private async pathOf(key: string, mustExist: boolean): Promise<string> {
    if (!key || key.includes('\0') || path.isAbsolute(key) || /^[a-zA-Z]:/.test(key)) {
      throw new StorageError('access_denied', `key '${key}' is not a relative path`);
    }
    const joined = path.resolve(this.dir, key);
    if (!isWithin(this.dir, joined) || joined === this.dir) {
      throw new StorageError('access_denied', `key '${key}' leaves the storage path`);
    }
    let probe = joined;
    for (;;) {
      try {
        const real = await realpath(probe);
        if (!isWithin(this.root, real)) {
          throw new StorageError('access_denied', `key '${key}' resolves outside LOCAL_FILES_DOCUMENT_ROOT`);
        }
        if (probe !== joined) break;
        return real;
      } catch (e) {
        if (e instanceof StorageError) throw e;
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        if (mustExist) throw new StorageError('not_found', `object '${key}' does not exist`);
        probe = path.dirname(probe);
      }
    }
    return joined;
  }

  async head(key: string): Promise<HeadResult> {
    const p = await this.pathOf(key, true);
    const st = await stat(p);
    // A hard link inside the root may name a file outside it, which no path check can see:
    // files with more than one link are treated as absent (docs/security.md).
    if (!st.isFile() || st.nlink > 1) throw new StorageError('not_found', `object '${key}' does not exist`);
    return { size: st.size, etag: `${Math.floor(st.mtimeMs * 1000).toString(16)}-${st.size.toString(16)}`, lastModified: st.mtime };
  }

  async read(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    const p = await this.pathOf(key, true);
    const h = await this.head(key);
    const { start, end, length } = readWindow(key, h.size, options.range, options.maxBytes ?? this.opts.maxReadBytes);
    const body = createReadStream(p, length === 0 ? { start: 0, end: -1 } : { start, end });
    return {
      body,
      contentLength: length,
      totalSize: h.size,
      etag: h.etag,
      lastModified: h.lastModified,
      ...(options.range ? { range: { start, end } } : {}),
    };
  }

  /** `/data/local-files/?d=<path relative to the document root>`, each segment URL-encoded. */
  async presign(key: string): Promise<string> {
    const p = await this.pathOf(key, false);
    return localFilesUrl(this.root, p);
  }

  async write(key: string, body: string | Buffer, _options?: WriteOptions): Promise<void> {
    const p = await this.pathOf(key, false);
    await mkdir(path.dirname(p), { recursive: true });
    await this.pathOf(key, false); // the created parents must still resolve inside the root
    // Write then rename: readers never see a half-written file.
    const tmp = `${p}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, p);
  }

  async delete(key: string): Promise<void> {
    let p: string;
    try {
      p = await this.pathOf(key, true);
    } catch (e) {
      if (e instanceof StorageError && e.code === 'not_found') return;
      throw e;
    }
    await rm(p, { force: true });
  }

  /** @throws ValidationError on `path` when local files serving is disabled. */
  async validate(_role: StorageRole): Promise<void> {
    if (this.opts.servingEnabled === false) throw ValidationError.field('path', SERVING_DISABLED_MESSAGE);
    const d = await this.openDir(this.dir);
    await d.close();
  }

  async close(): Promise<void> {}
}

/** The service-relative URL of a file under the document root (spec §5.3). */
export function localFilesUrl(realRoot: string, absPath: string): string {
  const rel = path.relative(realRoot, absPath).split(path.sep).join('/');
  return `/data/local-files/?d=${encodeKeyPath(rel)}`;
}

/**
 * Builds a local files provider after the §5.1 path checks.
 * @throws ValidationError on `path` or `regex_filter`.
 */
export async function createLocalProvider(opts: LocalProviderOptions): Promise<LocalFilesProvider> {
  compileKeyFilter(opts.regexFilter);
  const { dir, root } = await resolveStoragePath(opts.path, opts.documentRoot);
  return new LocalFilesProvider(dir, root, opts);
}
