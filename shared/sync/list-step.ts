/**
 * One time-boxed listing step of a sync job: lists from the continuation token until the step's
 * deadline (or its chunk budget), cuts what it listed into chunks stored in the table, and returns
 * only references to them plus the token to resume from. Steps end on page boundaries; the entries
 * after a step's last chunk cut are stored as its carry and start the next step's first chunk, so
 * every listed entry lands in exactly one chunk, a retried step rewrites the same chunk numbers, and
 * chunk cuts depend on the keys only (never on where a step happened to end).
 *
 * Chunk ranges (ordered providers): chunk n covers the keys after the previous chunk's last key up
 * to its own last key; the listing's final chunk is open-ended (possibly empty), so together the
 * chunks of a complete listing cover the whole key space once — the chunk step diffs each range
 * against the stored links to find deleted objects.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { getProject } from '../db/repo-projects';
import { getCarry, putCarry, putChunks, type ChunkEntry, type ChunkItem } from '../db/repo-chunks';
import { getChunkDigestJobs, putChunkDigests } from '../db/repo-digests';
import { getJob } from '../db/repo-jobs';
import { syncKeys } from '../db/sync-keys';
import { chunkDigest, dedupe } from './import-chunk/digest';
import { isConditionalFailure } from '../db/repo-common';
import { addRun } from '../db/repo-link-pages';
import { compareUtf8, readAhead } from '../storage/common';
import type { ObjectEntry } from '../storage/types';
import type { SyncDeps } from './deps';
import { exportPrefixes, underAny } from './export-prefix';
import { loadLiveJob } from './job-context';

export interface ListStepInput {
  storageId: number;
  jobId: string;
  role: 'import' | 'export';
  /** Token returned by the previous step; null for the first. */
  token: string | null;
}

export interface ChunkRef {
  jobId: string;
  chunk: number;
}

export interface ListStepResult {
  /** Resume token; null once the listing is complete. */
  token: string | null;
  done: boolean;
  chunks: ChunkRef[];
  /** Entries listed by this step. */
  listed: number;
}

/** Cursor carried between steps inside the opaque token. */
interface Cursor {
  /** Provider token to resume after. */
  p?: string;
  /** Next chunk number. */
  n: number;
  /** Last key of the previous chunk (range start of the next one). */
  k: string | null;
  /** Step number (fences the job's listing counters against retried steps). */
  i: number;
  /** Link run of this listing (ordered imports; see shared/db/repo-link-pages.ts). */
  r?: string;
  /** The previous step stored a carry (entries after its last chunk cut) for this one. */
  c?: true;
}

const encode = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decode(token: string | null): Cursor {
  if (!token) return { n: 0, k: null, i: 0 };
  const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Cursor;
  if (typeof c.n !== 'number' || typeof c.i !== 'number') throw new Error('invalid listing token');
  return c;
}

/**
 * Cuts entries into chunks of at most `chunkSize` entries and `maxBytes` of keys. With a
 * `boundary` predicate the cuts are content-defined: between `chunkSize / 2` and `2 × chunkSize`
 * entries a chunk ends before an entry the predicate picks (probability 2 / chunkSize, so chunks
 * average `chunkSize`). The same keys then give the same chunks whatever the listing steps'
 * (time-dependent) boundaries were, so unchanged chunks of a re-sync match the previous job's
 * digests. Pure; the caller assigns numbers and ranges.
 */
export class ChunkCutter<T> {
  private current: T[] = [];
  private bytes = 0;
  readonly full: T[][] = [];

  constructor(
    private readonly chunkSize: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (t: T) => number,
    private readonly boundary?: (t: T) => boolean,
  ) {}

  push(t: T): void {
    const b = this.sizeOf(t);
    const n = this.current.length;
    const max = this.boundary ? this.chunkSize * 2 : this.chunkSize;
    const cdc = this.boundary !== undefined && n >= Math.max(1, Math.floor(this.chunkSize / 2)) && this.boundary(t);
    if (n && (n >= max || this.bytes + b > this.maxBytes || cdc)) this.cut();
    this.current.push(t);
    this.bytes += b;
  }

  /** Removes and returns the partial chunk (the entries after the last cut). */
  takePartial(): T[] {
    const rest = this.current;
    this.current = [];
    this.bytes = 0;
    return rest;
  }

  /** Moves the partial chunk to `full` (if non-empty). */
  cut(): void {
    if (!this.current.length) return;
    this.full.push(this.current);
    this.current = [];
    this.bytes = 0;
  }
}

/** Content-defined chunk boundary: a salted FNV-1a of the key hits 0 modulo `chunkSize / 2`. */
export function keyBoundary(chunkSize: number): (e: { k: string }) => boolean {
  const m = Math.max(1, Math.floor(chunkSize / 2));
  return (e) => {
    let h = 0x9e3779b9;
    for (let i = 0; i < e.k.length; i++) {
      h ^= e.k.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % m === 0;
  };
}

const toEntry = (o: ObjectEntry): ChunkEntry => ({
  k: o.key,
  ...(o.size !== undefined ? { s: o.size } : {}),
  ...(o.etag ? { e: o.etag } : {}),
  ...(o.lastModified ? { m: o.lastModified.getTime() } : {}),
});

/**
 * Adds this step's listing counts to the job exactly once: the step's first chunk number is a
 * monotonic fence (`listedThrough`), so a retried step does not count twice.
 */
async function countListing(
  deps: SyncDeps,
  jobId: string,
  fence: number,
  c: { listed: number; chunks: number; skipped: number; unchangedChunks: number; unchangedObjects: number },
  done: boolean,
): Promise<void> {
  try {
    await deps.db.doc.send(
      new UpdateCommand({
        TableName: deps.db.table,
        Key: syncKeys.job(jobId),
        UpdateExpression:
          `SET listedThrough = :f${done ? ', listDone = :t' : ''} ` +
          'ADD #listed :l, #chunks :c, skipped_export :s, chunks_unchanged :cu, #unchanged :u, #processed :u',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(listedThrough) OR listedThrough < :f)',
        ExpressionAttributeNames: { '#listed': 'listed', '#chunks': 'chunks', '#unchanged': 'unchanged', '#processed': 'processed' },
        ExpressionAttributeValues: {
          ':f': fence, ':l': c.listed, ':c': c.chunks, ':s': c.skipped, ':cu': c.unchangedChunks, ':u': c.unchangedObjects,
          ...(done ? { ':t': true } : {}),
        },
      }),
    );
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
  }
}

/** Registers a new link run for a listing that starts from the beginning (`<jobId>~<epoch>`). */
async function newRun(deps: SyncDeps, storageId: number, jobId: string): Promise<string> {
  const res = await deps.db.doc.send(
    new UpdateCommand({
      TableName: deps.db.table,
      Key: syncKeys.job(jobId),
      UpdateExpression: 'ADD listEpoch :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const run = `${jobId}~${Number(res.Attributes?.listEpoch ?? 1)}`;
  await addRun(deps.db, storageId, run);
  return run;
}

/**
 * Runs one listing step until `deadline` (epoch ms).
 * @throws StorageError when the provider fails (the state machine fails the job with it)
 */
export async function listStep(deps: SyncDeps, input: ListStepInput, deadline: number): Promise<ListStepResult> {
  const { storageId, jobId } = input;
  const live = await loadLiveJob(deps, storageId, jobId);
  if ('stop' in live) return { token: null, done: true, chunks: [], listed: 0 };
  const cursor = decode(input.token);
  const s = deps.settings;
  // The first step hands over its first chunks early: writing starts while the listing goes on.
  const first = cursor.i === 0;
  // Time boxes grow from firstStepMs, doubling up to listStepMs: a slow listing hands its first
  // chunks over within a second, and the next steps stay short enough that the writers do not sit
  // idle behind one long listing step. A step with nothing to hand over yet (every chunk skipped
  // by digest) keeps listing up to listStepMs: ending it would only add a step.
  const started = Date.now();
  const softEnd = Math.min(deadline, started + Math.min(s.listStepMs, s.firstStepMs * 2 ** Math.min(cursor.i, 30)));
  const hardEnd = Math.min(deadline, started + s.listStepMs);
  const chunkBudget = first ? Math.max(1, s.firstStepChunks) : s.maxChunksPerStep;

  const isExport = input.role === 'export';
  const ordered = !isExport && live.provider.ordered;
  // Every listing from the start is a new link run: a job listed again (resumed from its first
  // state) may cut different ranges, and the pages of one run must stay disjoint.
  const run = ordered ? (cursor.r ?? (await newRun(deps, storageId, jobId))) : undefined;
  let skip: (key: string) => boolean = () => false;
  if (!isExport) {
    const targets = await deps.projectStorages(live.storage.projectId, 'export');
    skip = underAny(exportPrefixes(live.storage, targets));
  }

  // Unchanged chunks are recognised here already (same digest as the previous clean job's): they
  // are neither stored nor handed to a chunk Lambda, so an unchanged re-sync costs the listing.
  let trust: { job: string; mode: Parameters<typeof chunkDigest>[2] } | undefined;
  if (!isExport) {
    const job = await getJob(deps.db, jobId);
    if (job?.trust_digests_of && (ordered || job.sync_deletions === 'keep')) {
      const project = await getProject(deps.db, live.storage.projectId);
      if (project) {
        trust = {
          job: job.trust_digests_of,
          mode: { blob: !!live.config.use_blob_urls, dataKey: project.data_keys?.[0] ?? '$undefined$', deletions: job.sync_deletions },
        };
      }
    }
  }
  let unchangedChunks = 0;
  let unchangedObjects = 0;
  let planned = 0;

  const cutter = new ChunkCutter<ChunkEntry | unknown>(
    s.chunkSize,
    s.maxChunkBytes,
    (e) => (isExport ? JSON.stringify(e).length : Buffer.byteLength((e as ChunkEntry).k) + 40),
    isExport ? undefined : (keyBoundary(s.chunkSize) as (e: unknown) => boolean),
  );
  let listed = 0;
  let skipped = 0;
  let done = false;
  let token = cursor.p;
  let prevKey: string | undefined;
  // The previous step's entries after its last cut start this step's first chunk (counted there).
  if (cursor.c) {
    for (const e of await getCarry(deps.db, jobId, cursor.i - 1)) {
      cutter.push(e);
      prevKey = e.k;
    }
  }

  // Full chunks are written as the listing goes (memory stays one chunk group, whatever N), except
  // the newest one: whether it is the listing's open-ended last chunk is known only at the end.
  const refs: ChunkRef[] = [];
  let held: Omit<ChunkItem, 'kind'> | undefined;
  let from = cursor.k;
  let n = cursor.n;
  const toWrite: Omit<ChunkItem, 'kind'>[] = [];
  // Digest check and chunk writes of one group run while the listing goes on (at most one group in
  // flight): on an unchanged re-sync the listing then barely waits for the table.
  let inFlight = 0;
  let storing: Promise<void> = Promise.resolve();
  const store = async (batch: Omit<ChunkItem, 'kind'>[]) => {
    if (trust && batch.length) {
      const unique = batch.map((c) => dedupe(c.entries));
      const digests = batch.map((c, i) => chunkDigest(c, unique[i], trust!.mode));
      const jobs = await getChunkDigestJobs(deps.db, storageId, digests);
      const same = batch.map((_, i) => jobs.get(digests[i]) === trust!.job);
      const hits = digests.filter((_, i) => same[i]);
      if (hits.length) {
        await putChunkDigests(deps.db, storageId, hits, jobId);
        unchangedChunks += hits.length;
        unchangedObjects += unique.filter((_, i) => same[i]).reduce((a, u) => a + u.length, 0);
        batch = batch.filter((_, i) => !same[i]);
      }
    }
    await putChunks(deps.db, batch);
    for (const c of batch) refs.push({ jobId, chunk: c.n });
  };
  const drain = async (final: boolean) => {
    for (const group of cutter.full.splice(0)) {
      const c: Omit<ChunkItem, 'kind'> = isExport
        ? { jobId, n, entries: [], items: group, from: null, to: null, ordered: false }
        : { jobId, n, entries: group as ChunkEntry[], from, to: (group[group.length - 1] as ChunkEntry).k, ordered, ...(run ? { run } : {}) };
      from = c.to;
      n++;
      if (held) toWrite.push(held);
      held = c;
    }
    if (final && held) {
      toWrite.push(held);
      held = undefined;
    }
    if (toWrite.length >= 25 || final) {
      const batch = toWrite.splice(0);
      planned += batch.length;
      await storing;
      inFlight = batch.length;
      storing = store(batch).finally(() => (inFlight = 0));
      // Awaited by the next drain or the step's end; the no-op handler keeps a failure from being
      // reported as unhandled meanwhile (it is still thrown where the promise is awaited).
      storing.catch(() => undefined);
      if (final) await storing;
    }
  };
  // Chunks that go to the chunk Lambdas: digest-skipped ones do not count against the budget.
  const handedOver = () => refs.length + (trust ? 0 : inFlight + toWrite.length);

  // One page ahead: the provider lists the next page while this one is cut and stored.
  const pages = readAhead<{ entries?: ObjectEntry[]; items?: unknown[]; nextToken?: string }>(
    isExport ? deps.exporter.listExportItems(deps.db, live.storage, { startToken: token }) : live.provider.list({ startToken: token }),
  );
  try {
    for await (const page of pages) {
      if (isExport) {
        for (const item of page.items ?? []) cutter.push(item);
        listed += page.items?.length ?? 0;
      } else {
        for (const o of page.entries ?? []) {
          if (ordered && prevKey !== undefined && compareUtf8(prevKey, o.key) >= 0) {
            // Range diffs rely on the order; a provider breaking it must not delete anything.
            throw new Error(`the storage listed keys out of order ('${o.key}' after '${prevKey}')`);
          }
          prevKey = o.key;
          if (skip(o.key)) {
            skipped++;
            continue;
          }
          cutter.push(toEntry(o));
          listed++;
        }
      }
      await drain(false);
      token = page.nextToken;
      if (!token) {
        done = true;
        break;
      }
      const now = Date.now();
      if (now >= hardEnd || (now >= softEnd && handedOver() > 0) || handedOver() >= chunkBudget) break;
    }
  } catch (e) {
    // Nothing of a failed step may still be writing when the step is retried.
    await storing.catch(() => undefined);
    throw e;
  }
  if (!token) done = true;
  // A step that ends mid-listing does not cut: its partial chunk is carried to the next step, so
  // every cut is content-defined and an unchanged re-sync meets the same chunks (and digests)
  // wherever the steps of either job ended. Exports cut by count and have nothing to carry.
  const carry = !done && !isExport ? (cutter.takePartial() as ChunkEntry[]) : [];
  if (carry.length) await putCarry(deps.db, jobId, cursor.i, carry);
  cutter.cut();
  if (done && ordered) {
    // The listing's final chunk is open-ended: it also diffs every link after the last listed key
    // (an empty chunk when the listing ended on a chunk boundary or listed nothing).
    await drain(false);
    if (held) held.to = null;
    else held = { jobId, n: n++, entries: [], from, to: null, ordered, ...(run ? { run } : {}) };
  }
  await drain(true);
  await countListing(deps, jobId, cursor.i, { listed, chunks: planned, skipped, unchangedChunks, unchangedObjects }, done);
  return {
    token: done ? null : encode({ p: token, n, k: from, i: cursor.i + 1, ...(run ? { r: run } : {}), ...(carry.length ? { c: true as const } : {}) }),
    done,
    chunks: refs,
    listed,
  };
}
