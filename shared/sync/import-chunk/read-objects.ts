/**
 * Read phase of an import chunk: new and changed objects are read and parsed into task rows (JSON
 * mode, bounded concurrency; blob mode reads nothing and makes one row pointing at the object),
 * then {@link sortReadResults} tells real changes from objects whose content is the same under a
 * new version tag.
 */
import { createHash } from 'node:crypto';
import { mapLimit } from '../../storage/common';
import type { StorageProvider } from '../../storage/types';
import { parseTaskFile, type ParseLimits, type ParsedRow } from '../parse-tasks';
import { hasFailedRows, sweeps, touch, type ImportChunkContext, type StepLink, type SyncFailure, type ToRead, type Work } from './types';

/** The rows of one object, or why it could not be read. */
export type ReadResult = { rows: ParsedRow[]; hash?: string } | { error: string };

export interface ReadOptions {
  readConcurrency: number;
  maxTaskFileBytes: number;
  parseLimits: ParseLimits;
  /** The URI a blob-mode task points at. */
  blobUri(key: string): string;
}

/** Reads every object of `toRead` (results in the same order). Never throws for one object's failure. */
export async function readObjects(provider: Pick<StorageProvider, 'read'>, toRead: ToRead[], ctx: Pick<ImportChunkContext, 'blob' | 'dataKey'>, opts: ReadOptions): Promise<ReadResult[]> {
  if (ctx.blob) return toRead.map((w) => ({ rows: [{ row_index: null, task: { data: { [ctx.dataKey]: opts.blobUri(w.e.k) } } }] }));
  return mapLimit(toRead, opts.readConcurrency, async (w): Promise<ReadResult> => {
    try {
      const res = await provider.read(w.e.k, { maxBytes: opts.maxTaskFileBytes });
      // The content hash lets a re-listed object whose version tag changed (or a backend without
      // version tags, like Redis) be recognised as unchanged without rewriting its tasks.
      const hash = createHash('sha256');
      async function* hashed() {
        for await (const c of res.body as AsyncIterable<Buffer | string>) {
          hash.update(c);
          yield c;
        }
      }
      const rows = await parseTaskFile(w.e.k, hashed(), opts.parseLimits);
      return { rows, hash: hash.digest('base64url') };
    } catch (err) {
      return { error: readable(err) };
    }
  });
}

/** A secret-free sentence for a per-object failure. */
export function readable(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export interface Sorted {
  /** Objects whose tasks are (re)written. */
  work: Work[];
  /** Links to rewrite without touching tasks: a new version tag of the same content, or a mark. */
  touched: StepLink[];
  unchanged: number;
  failures: SyncFailure[];
}

/** Sorts read results (pure): same content under a new tag → link only; failed reads → failures. */
export function sortReadResults(toRead: ToRead[], results: ReadResult[], ctx: ImportChunkContext): Sorted {
  const out: Sorted = { work: [], touched: [], unchanged: 0, failures: [] };
  toRead.forEach((w, i) => {
    const r = results[i];
    if ('error' in r) {
      out.failures.push({ key: w.e.k, reason: r.error });
      // An object that exists but failed to read must survive the sweep of an unordered listing.
      if (w.link && sweeps(ctx)) out.touched.push(touch(w.link, ctx));
    } else if (w.link && r.hash && w.link.hash === r.hash && w.link.object_exists !== false && !hasFailedRows(w.link)) {
      out.unchanged++;
      const tagChanged = w.link.etag !== w.e.e || w.link.size !== w.e.s || w.link.mtime !== w.e.m;
      if (tagChanged || sweeps(ctx)) out.touched.push(touch(w.link, ctx, { etag: w.e.e, size: w.e.s, mtime: w.e.m }));
    } else out.work.push({ e: w.e, link: w.link, rows: r.rows, hash: r.hash });
  });
  return out;
}
