/**
 * Local files provider (`localfiles`): a directory under LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT.
 * Keys are `/`-separated paths relative to the storage path. The walk is depth-first over each
 * directory's entries sorted so that keys come in S3's order (ascending UTF-8 bytes of the full
 * key), hence `ordered` is true and sync can diff key ranges. Sorting needs a directory's names in
 * memory: the walk holds one array of names (no stat data) per open level of the current path, so
 * a flat directory of 1M files holds ~1M names (tens of MB) while it is walked; a directory handle
 * is never kept open across a yield. Every file operation resolves symlinks and refuses a target
 * outside the document root.
 */
import { createReadStream, watch } from 'node:fs';
import type { Dir, FSWatcher } from 'node:fs';
import { mkdir, opendir, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StorageError, ValidationError } from '../../errors';
import type {
  HeadResult,
  KeyChange,
  Subscription,
  ListOptions,
  ListPage,
  ObjectEntry,
  ReadOptions,
  ReadResult,
  StorageProvider,
  StorageRole,
  WriteOptions,
} from '../types';
import { compileKeyFilter, pageSizeOf, type KeyMatcher, selectsKey } from '../key-filter';
import { compareUtf8, encodeKeyPath, mapLimit, readWindow } from '../common';

export interface LocalProviderOptions {
  /** Storage `path` as configured. */
  path: string;
  documentRoot: string;
  regexFilter?: string | null;
  recursive: boolean;
  maxReadBytes: number;
  /** LOCAL_FILES_SERVING_ENABLED; false refuses to build the provider (default true). */
  servingEnabled?: boolean;
  /** LABELSYNC_DATA_DIR: no storage may contain, equal or lie inside it (it holds secret.key and api-token). */
  dataDir?: string;
}

/** Label Studio's message when a local-files storage is used with serving disabled. */
export const SERVING_DISABLED_MESSAGE =
  'Serving local files from the host filesystem can be a security risk, so LOCAL_FILES_SERVING_ENABLED is disabled by default. ' +
  'To enable it, set LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT to the directory holding your data.';

/**
 * One message for a directory another organization owns, on, above or below the path, so the
 * answer tells nothing about which directories other organizations use (shared/api/local-dirs.ts).
 */
export const DIR_UNAVAILABLE = 'This directory is not available to your organization for a local files storage.';

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

/** The one answer for a path outside the document root, whether or not it exists (no existence oracle). */
function outsideRoot(p: string, rootText: string): ValidationError {
  return ValidationError.field(
    'path',
    `Absolute local path "${p}" must be a subdirectory of LOCAL_FILES_DOCUMENT_ROOT="${rootText}" ` +
      `(symlinks resolved). Please add a path under the document root.`,
  );
}

/** Real path of `p`, or undefined when it does not exist. */
async function realOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch {
    return undefined;
  }
}

/**
 * The data directory in every form a path may take to reach it: as configured (resolved) and
 * its real path when it exists. Empty without a data directory.
 */
export async function dataDirForms(dataDir: string | undefined): Promise<string[]> {
  if (!dataDir) return [];
  const lexical = path.resolve(dataDir);
  const real = await realOrUndefined(lexical);
  return real && real !== lexical ? [lexical, real] : [lexical];
}

/** Does real directory `dir` contain, equal or lie inside one of `dataForms`? */
export function touchesDataDir(dir: string, dataForms: string[]): boolean {
  return dataForms.some((d) => isWithin(dir, d) || isWithin(d, dir));
}

/**
 * Checks a storage path against the document root and the service's data directory and returns
 * the real (symlink-resolved) storage path and root.
 * @throws ValidationError on `path` for a malformed or misplaced path, under `non_field_errors`
 * (Label Studio's place for a failed connection check) when it does not exist or is no directory.
 */
export async function resolveStoragePath(rawPath: string, documentRoot: string, dataDir?: string): Promise<{ dir: string; root: string }> {
  const p = normalizeLocalPath(rawPath ?? '');
  if (!p) throw ValidationError.field('path', 'Path must be set for Local Files storage');
  if (!path.isAbsolute(p)) throw ValidationError.field('path', `Path "${p}" must be absolute`);
  // A NUL byte is a malformed path (the file system refuses it), not a missing directory.
  if (p.includes('\0')) throw ValidationError.field('path', `Path "${p}" must not contain NUL characters`);
  const root = await realOrUndefined(documentRoot);
  if (!root) throw new ValidationError({ non_field_errors: [`LOCAL_FILES_DOCUMENT_ROOT="${documentRoot}" does not exist`] });
  const dir = await realOrUndefined(p);
  if (!dir) {
    // Only a path that would lie under the root learns that it is missing.
    const under = [root, path.resolve(documentRoot)].some((r) => isWithin(r, p) && r !== p);
    if (under) throw new ValidationError({ non_field_errors: [`Absolute local path "${p}" does not exist`] });
    throw outsideRoot(p, documentRoot);
  }
  if (dir === root) {
    throw ValidationError.field(
      'path',
      `Absolute local path "${p}" cannot be the same as LOCAL_FILES_DOCUMENT_ROOT="${documentRoot}" by security reasons. ` +
        `Please add a subdirectory. For example: "${path.posix.join(documentRoot, 'dataset1')}".`,
    );
  }
  if (!isWithin(root, dir)) throw outsideRoot(p, documentRoot);
  if (touchesDataDir(dir, await dataDirForms(dataDir))) {
    throw ValidationError.field('path', `Absolute local path "${p}" holds or lies inside the service's data directory (LABELSYNC_DATA_DIR), which cannot be a storage`);
  }
  const st = await stat(dir);
  if (!st.isDirectory()) throw new ValidationError({ non_field_errors: [`Absolute local path "${p}" is not a directory`] });
  return { dir, root };
}

/** One directory on the walk's current path. */
interface Level {
  /**
   * Entries in key order: file and symlink names, directory names with a trailing `/` (the
   * directory's keys all start with `name/`, so its subtree sorts exactly where `name/` does).
   */
  names: string[];
  /** Names among `names` that are symbolic links (checked before being yielded). */
  links: Set<string>;
  /** Index of the next entry to walk. */
  next: number;
  /** Key prefix of this directory relative to the storage path ('' or 'a/b/'). */
  rel: string;
  /** Absolute directory path. */
  abs: string;
}

const HIGH_UNIT = /[\ud800-\uffff]/;

/** Sorts in place by UTF-8 bytes; the native sort (UTF-16 order) is exact and faster without high code units. */
function sortUtf8(names: string[]): void {
  if (names.some((n) => HIGH_UNIT.test(n))) names.sort(compareUtf8);
  else names.sort();
}

/** Index of the first name ordered after `bound` in sorted `names`. */
function firstAfter(names: string[], bound: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareUtf8(names[mid], bound) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Decodes a resume token (the last key walked) into its path components. */
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
  readonly ordered = true;
  readonly seeks = true;
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
    // A start key positions the walk as a resume token does: every level on its path skips the
    // entries ordered at or before it (it need not name an existing file or directory).
    const resume = parseToken(options.startToken) ?? (options.startAfter ? options.startAfter.split('/') : undefined);
    let scanned: string[] = [];
    for await (const key of this.walk(resume)) {
      options.signal?.throwIfAborted();
      if (options.endAt !== undefined && compareUtf8(key, options.endAt) > 0) break;
      scanned.push(key);
      if (scanned.length >= pageSize) {
        const page = await this.describe(scanned);
        const last = scanned[scanned.length - 1];
        scanned = [];
        yield { ...page, nextToken: Buffer.from(last, 'utf8').toString('base64url') };
      }
    }
    yield await this.describe(scanned);
  }

  /**
   * stat()s the page's matching files (bounded concurrency); vanished files are dropped, files
   * with more than one hard link are dropped and counted (see `head`).
   */
  private async describe(keys: string[]): Promise<ListPage> {
    const matching = keys.filter(this.filter);
    let hardLinks = 0;
    const out = await mapLimit(matching, 16, async (key): Promise<ObjectEntry | undefined> => {
      try {
        const st = await stat(path.join(this.dir, key));
        if (st.isFile() && st.nlink > 1) hardLinks++;
        if (!st.isFile() || st.nlink > 1) return undefined;
        return { key, size: st.size, etag: `${Math.floor(st.mtimeMs * 1000).toString(16)}-${st.size.toString(16)}`, lastModified: st.mtime };
      } catch {
        return undefined;
      }
    });
    const entries = out.filter((e): e is ObjectEntry => e !== undefined);
    return hardLinks ? { entries, hardLinksSkipped: hardLinks } : { entries };
  }

  /**
   * Depth-first walk yielding file keys in ascending UTF-8 byte order of the full key. With
   * `resume` (the components of the last key walked) each level on the path to that key skips
   * every entry ordered at or before the recorded component, and descends into the recorded
   * directory with the rest of the path. A recorded name that vanished, or a new one, therefore
   * neither repeats nor skips a key: the position is a place in the key order, not an entry.
   */
  private async *walk(resume: string[] | undefined): AsyncGenerator<string> {
    const stack: Level[] = [];
    let abs = this.dir;
    let rel = '';
    let rest = resume;
    for (;;) {
      const level = await this.readLevel(abs, rel, stack.length === 0);
      stack.push(level);
      if (!rest?.length) break;
      const [name, ...below] = rest;
      const bound = below.length ? `${name}/` : name;
      level.next = firstAfter(level.names, bound);
      // The recorded directory still exists (and would be walked): continue inside it.
      if (!below.length || level.names[level.next - 1] !== bound) break;
      abs = path.join(abs, name);
      rel = `${rel}${name}/`;
      rest = below;
    }
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.next >= top.names.length) {
        stack.pop();
        continue;
      }
      const name = top.names[top.next++];
      if (name.endsWith('/')) {
        stack.push(await this.readLevel(path.join(top.abs, name.slice(0, -1)), top.rel + name, false));
        continue;
      }
      // Follow a link only to a file inside the document root; linked directories are not
      // descended (loops) — list their files through their own storage instead.
      if (!top.links.has(name) || (await this.isContainedFile(path.join(top.abs, name)))) yield top.rel + name;
    }
  }

  /**
   * Reads one directory's entry names and types (no stat) and sorts them in key order.
   * Directories are kept only when recursive. A sub-directory removed since its parent was read
   * is empty (its keys are gone, as on S3); the storage directory itself must exist.
   * @throws StorageError('not_found') when the directory cannot be read
   */
  private async readLevel(abs: string, rel: string, isStorageDir: boolean): Promise<Level> {
    const names: string[] = [];
    const links = new Set<string>();
    try {
      const dir = await opendir(abs, { bufferSize: 128 });
      // The async iterator closes the handle when the loop ends or throws.
      for await (const d of dir) {
        if (d.isFile()) names.push(d.name);
        else if (d.isSymbolicLink()) {
          names.push(d.name);
          links.add(d.name);
        } else if (d.isDirectory() && this.opts.recursive) names.push(`${d.name}/`);
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (isStorageDir || (code !== 'ENOENT' && code !== 'ENOTDIR')) {
        throw new StorageError('not_found', `directory '${abs}' does not exist or cannot be read`, { cause: e });
      }
      names.length = 0;
      links.clear();
    }
    sortUtf8(names);
    return { names, links, next: 0, rel, abs };
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

  /**
   * A recursive `fs.watch` of the storage directory: every changed path is reported as a key
   * (its kind is unknown to the watcher: event sync stats it). Keys that `selects` refuses are
   * dropped here already; a removed directory reports itself, not its files (the next full sync
   * finds them gone).
   */
  async subscribe(onChange: (changes: KeyChange[]) => void, onError: (e: Error) => void): Promise<Subscription> {
    const report = (rel: string) => {
      const key = rel.split(path.sep).join('/');
      if (this.selects(key)) onChange([{ key, kind: 'created' }]);
    };
    if (this.opts.recursive && process.platform === 'linux') return this.watchTree(report, onError);
    const w = watch(this.dir, { recursive: this.opts.recursive, persistent: false }, (_type, name) => {
      if (name) report(String(name));
    });
    w.on('error', (e) => {
      w.close();
      onError(e);
    });
    return { close: async () => w.close() };
  }

  /**
   * A recursive watch as one inotify watch per directory. Node 20 emulates `recursive` on Linux in
   * JavaScript, a stat poller per file: a burst of 10,000 new files took 26 s to be reported (and
   * 10 s of CPU) against 4.6 s this way. A directory that appears is watched too and the files
   * already in it are reported (they may have been written before its watch existed); one that
   * disappears drops its watch.
   */
  private async watchTree(report: (rel: string) => void, onError: (e: Error) => void): Promise<Subscription> {
    const watchers = new Map<string, FSWatcher>();
    let closed = false;
    const close = () => {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
    };
    const drop = (rel: string) => {
      for (const [r, w] of watchers) {
        if (r !== rel && !r.startsWith(rel + path.sep)) continue;
        w.close();
        watchers.delete(r);
      }
    };
    const add = async (rel: string, fresh: boolean): Promise<void> => {
      if (closed || watchers.has(rel)) return;
      const abs = path.join(this.dir, rel);
      let w: FSWatcher;
      try {
        w = watch(abs, { persistent: false }, (type, name) => {
          if (!name) return;
          const child = rel ? path.join(rel, String(name)) : String(name);
          report(child);
          // A new or removed entry: a directory gets (or loses) its own watch.
          if (type === 'rename') void stat(path.join(this.dir, child)).then((st) => (st.isDirectory() ? add(child, true) : undefined), () => drop(child)).catch(() => undefined);
        });
      } catch (e) {
        // A subdirectory removed before its watch was made: nothing to follow.
        if (!rel) throw e;
        return;
      }
      w.on('error', (e) => {
        if (rel) return drop(rel);
        close();
        onError(e);
      });
      watchers.set(rel, w);
      const entries = await readdir(abs, { withFileTypes: true }).catch(() => []);
      for (const d of entries) {
        const child = path.join(rel, d.name);
        if (d.isDirectory()) await add(child, fresh);
        else if (fresh && d.isFile()) report(child);
      }
    };
    try {
      await add('', false);
    } catch (e) {
      close();
      throw e;
    }
    return { close: async () => close() };
  }

  selects(key: string): boolean {
    return selectsKey(key, { prefix: '', recursive: this.opts.recursive, filter: this.filter });
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

  async validate(_role: StorageRole): Promise<void> {
    const d = await this.openDir(this.dir);
    await d.close();
  }

  async close(): Promise<void> {}
}

/** The service-relative URL of a file under the document root. */
export function localFilesUrl(realRoot: string, absPath: string): string {
  const rel = path.relative(realRoot, absPath).split(path.sep).join('/');
  return `/data/local-files/?d=${encodeKeyPath(rel)}`;
}

/**
 * Builds a local files provider after the path checks (absolute, strictly below the document
 * root, clear of the data directory, an existing directory). Every use of a local-files storage
 * (create, validate, files preview, sync, export) builds one, so the serving switch is checked here.
 * @throws ValidationError on `path` (serving disabled, a refused path) or `regex_filter`.
 */
export async function createLocalProvider(opts: LocalProviderOptions): Promise<LocalFilesProvider> {
  if (opts.servingEnabled === false) throw ValidationError.field('path', SERVING_DISABLED_MESSAGE);
  compileKeyFilter(opts.regexFilter);
  const { dir, root } = await resolveStoragePath(opts.path, opts.documentRoot, opts.dataDir);
  return new LocalFilesProvider(dir, root, opts);
}
