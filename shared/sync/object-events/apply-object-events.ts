/**
 * Event sync: object notifications of one storage → tasks, through the chunk step's per-key path
 * (`applyEntries`: classify → read → plan ids → build → write → deletions → links), so prefix,
 * `regex_filter`, `recursive_scan`, blob/JSON mode, the target-prefix skip, tombstones, versions
 * and `sync_deletions` apply exactly as in a full sync.
 *
 * - An event is a hint, the storage is the truth: every notified key is looked up (HEAD). A
 *   "created" for an object that is gone is handled as its removal, a "removed" for an object that
 *   exists as its (unchanged) presence, so a stale event never resurrects nor deletes.
 * - Ordering marks (sequencer, event time) of the last event applied to a key are kept with its
 *   overlay: an older event of the key is skipped (counted `stale`).
 * - A burst is coalesced: the newest event per key, then key-disjoint batches of at most a chunk
 *   ({@link batchesOf}), `chunkConcurrency` of them at once, each one id reservation, batched
 *   lookups of links and ordering marks (BatchGet) and batched writes.
 * - While a sync job of the storage runs, events are stored for later (repo-pending-events.ts)
 *   and applied by the job's finalize step: a chunk that read its range's links before an event
 *   wrote a task would otherwise create a second one.
 * - Each batch is a chunk item of its own (`ev-<hash of the batch>`): its id plan makes a retried
 *   batch reuse its ids, its `done` flag makes the project counters count once.
 * - Ordered storages keep their links in pages only a job writes: events write link overlays
 *   (repo-link-overlays.ts), which the next chunk of the range folds in; a range with overlays is
 *   never skipped by digest.
 */
import { createHash } from 'node:crypto';
import { StorageError } from '../../errors';
import type { ProjectItem, StorageItem } from '../../db/items';
import { completeChunk, getChunk, putChunks, type ChunkEntry, type ChunkItem } from '../../db/repo-chunks';
import { getLinks, getTombRecords } from '../../db/repo-links';
import { linksOfKeys, getRuns } from '../../db/repo-link-pages';
import { isOverlay, putOverlays, type EventMarks } from '../../db/repo-link-overlays';
import { adjustProjectCounters, getProject } from '../../db/repo-projects';
import { deletePendingEvents, pendingEventPages, putPendingEvents, type PendingEvent } from '../../db/repo-pending-events';
import { pyTime, writeStorageSyncState } from '../../db/repo-storage-sync-state';
import { backend, uriFor } from '../../storage/registry';
import { countObjectEvents, recordObjectEventLag } from '../../metrics';
import { mapLimit } from '../../storage/common';
import type { HeadResult, StorageConfig, StorageProvider } from '../../storage/types';
import type { SyncDeps } from '../deps';
import { exportPrefixes, underAny } from '../export-prefix';
import { applyEntries, type ImportChunkSource } from '../import-chunk/import-chunk';
import { removesAnnotated } from '../import-chunk/apply-deletions';
import { followsEvents } from './follows';
import { emitTasksCreated, emitTasksDeleted } from '../task-events';

export { followsEvents } from './follows';
import { mergeTombRecords, writeChunkLinks } from '../import-chunk/links';
import { readable } from '../import-chunk/read-objects';
import type { ImportChunkContext, StepLink } from '../import-chunk/types';
import { readStorage, syncDeletionsOf } from '../job-context';
import { isStale, marksOf, newestPerKey, type Marks } from './order';
import { addOutcome, emptyOutcome, MAX_ERRORS, type ObjectEvent, type ObjectEventsOutcome } from './types';

/** True while a sync job of the storage is queued or running (events wait for it). */
export function jobRunning(storage: Pick<StorageItem, 'status'>): boolean {
  return storage.status === 'queued' || storage.status === 'in_progress';
}


/**
 * Applies object events of one storage. Per-object problems are counted (`failed`, `errors`),
 * never thrown; infrastructure errors (the table, the storage unreachable for every key) throw so
 * the caller retries the batch.
 */
export async function applyObjectEvents(deps: SyncDeps, storageId: number, events: ObjectEvent[]): Promise<ObjectEventsOutcome> {
  const out = emptyOutcome(events.length);
  const storage = await readStorage(deps.db, storageId);
  if (!followsEvents(storage)) {
    out.skipped = events.length;
    return out;
  }
  const config = await deps.storageConfig(storage);
  const provider = await deps.getProvider(config, storageId);
  const targets = await deps.projectStorages(storage.projectId, 'export');
  const skip = underAny(exportPrefixes(storage, targets));
  const selected = events.filter((e) => provider.selects(e.key) && !skip(e.key));
  out.skipped = events.length - selected.length;
  const latest = newestPerKey(selected);
  out.coalesced = selected.length - latest.length;
  if (jobRunning(storage)) {
    await putPendingEvents(deps.db, storageId, latest.map(toPending));
    out.deferred = latest.length;
    // The job may have finished between the read and the put: then nobody else drains.
    const now = await readStorage(deps.db, storageId);
    if (now && !jobRunning(now)) addOutcome(out, await drainPendingEvents(deps, storageId));
    return out;
  }
  await applyLatest(deps, storage, config, provider, latest, out);
  await recordOutcome(deps, storageId, out);
  // Events a job deferred and nobody drained yet (a finalize that crashed before draining).
  addOutcome(out, await drainPendingEvents(deps, storageId));
  return out;
}

/**
 * Applies the events stored while a job ran (finalize calls it; so does an event call that found
 * the job finished). Idempotent: applied events are deleted, a crash leaves them for the next call.
 */
export async function drainPendingEvents(deps: SyncDeps, storageId: number): Promise<ObjectEventsOutcome> {
  const out = emptyOutcome();
  const storage = await readStorage(deps.db, storageId);
  if (!storage || jobRunning(storage)) return out;
  for await (const page of pendingEventPages(deps.db, storageId, deps.settings.chunkSize)) {
    if (followsEvents(storage)) {
      const config = await deps.storageConfig(storage);
      const provider = await deps.getProvider(config, storageId);
      const part = emptyOutcome(page.length);
      await applyLatest(deps, storage, config, provider, newestPerKey(page.map(fromPending)), part);
      addOutcome(out, part);
    }
    await deletePendingEvents(deps.db, storageId, page.map((e) => e.key));
  }
  if (out.received) await recordOutcome(deps, storageId, out);
  return out;
}

async function applyLatest(deps: SyncDeps, storage: StorageItem, config: StorageConfig, provider: StorageProvider, latest: ObjectEvent[], out: ObjectEventsOutcome): Promise<void> {
  const project = await getProject(deps.db, storage.projectId);
  if (!project) {
    out.skipped += latest.length;
    return;
  }
  const parts = await mapLimit(batchesOf(latest, deps.settings), deps.settings.chunkConcurrency, (batch) => applyBatch(deps, storage, project, config, provider, batch));
  for (const part of parts) addOutcome(out, part);
}

/**
 * Fewest keys per batch when a burst is spread over concurrent batches: a batch costs about a dozen
 * table round trips whatever its size, so smaller ones cost more than their parallelism gains.
 */
export const MIN_EVENT_BATCH = 100;

/**
 * Cuts newest-per-key events (one per key, key order) into batches applied at once: key-disjoint,
 * so no two concurrent batches touch one key's tasks, link or ordering marks; at most `chunkSize`
 * each, and small enough that a burst keeps `chunkConcurrency` batches busy.
 */
export function batchesOf<T>(latest: T[], settings: Pick<SyncDeps['settings'], 'chunkSize' | 'chunkConcurrency'>): T[][] {
  const size = Math.max(1, Math.min(settings.chunkSize, Math.max(MIN_EVENT_BATCH, Math.ceil(latest.length / Math.max(1, settings.chunkConcurrency)))));
  const out: T[][] = [];
  for (let i = 0; i < latest.length; i += size) out.push(latest.slice(i, i + size));
  return out;
}

/** What the storage says about a notified key now. */
type Looked = { e: ObjectEvent; entry: ChunkEntry } | { e: ObjectEvent; absent: true } | { e: ObjectEvent; error: string };

function isNotFound(err: unknown): boolean {
  return (err instanceof StorageError && err.code === 'not_found') || (err as NodeJS.ErrnoException)?.code === 'ENOENT' || (err as NodeJS.ErrnoException)?.code === 'ENOTDIR';
}

const entryOf = (key: string, h: HeadResult): ChunkEntry => ({
  k: key,
  ...(h.size !== undefined ? { s: h.size } : {}),
  ...(h.etag ? { e: h.etag } : {}),
  ...(h.lastModified ? { m: h.lastModified.getTime() } : {}),
});

/**
 * Looks the batch's keys up: in one go where the backend can (`lookup`, which throws when the
 * backend fails: the whole batch is retried), else a HEAD per key (a key's failure is its own).
 */
async function lookUp(provider: StorageProvider, batch: ObjectEvent[], concurrency: number): Promise<Looked[]> {
  if (provider.lookup && batch.length > 1) {
    const found = await provider.lookup(batch.map((e) => e.key));
    return batch.map((e): Looked => {
      const h = found.get(e.key);
      return h ? { e, entry: entryOf(e.key, h) } : { e, absent: true };
    });
  }
  return mapLimit(batch, concurrency, async (e): Promise<Looked> => {
    try {
      return { e, entry: entryOf(e.key, await provider.head(e.key)) };
    } catch (err) {
      return isNotFound(err) ? { e, absent: true } : { e, error: readable(err) };
    }
  });
}

/** One batch of newest-per-key events (key order, keys no concurrent batch has). */
async function applyBatch(
  deps: SyncDeps,
  storage: StorageItem,
  project: ProjectItem,
  config: StorageConfig,
  provider: StorageProvider,
  batch: ObjectEvent[],
): Promise<ObjectEventsOutcome> {
  const { db, settings } = deps;
  const out = emptyOutcome();
  const keys = batch.map((e) => e.key);
  const looked = await lookUp(provider, batch, settings.readConcurrency);
  if (looked.length && looked.every((l) => 'error' in l)) throw new Error(`storage ${storage.id}: every notified object failed to be looked up (${(looked[0] as { error: string }).error})`);

  const { links, applied } = await loadLinks(deps, storage.id, provider.ordered, keys);
  const fresh = looked.filter((l) => !isStale(marksOf(l.e), applied.get(l.e.key)));
  out.stale = looked.length - fresh.length;
  for (const l of fresh) {
    if (!('error' in l)) continue;
    out.failed++;
    if (out.errors.length < MAX_ERRORS) out.errors.push({ key: l.e.key, reason: l.error });
  }
  const deletions = syncDeletionsOf(storage);
  const entries = fresh.flatMap((l) => ('entry' in l ? [l.entry] : []));
  const gone = deletions === 'keep'
    ? []
    : fresh.flatMap((l) => ('absent' in l ? [links.get(l.e.key)] : [])).filter((l): l is StepLink => !!l && !(deletions === 'flag' && l.object_exists === false));
  if (!entries.length && !gone.length) return out;

  const chunk = await eventChunk(db, storage.id, entries, gone);
  if (chunk.done) {
    // The same batch was applied completely before (a redelivery).
    out.unchanged += entries.length + gone.length;
    return out;
  }
  const ctx: ImportChunkContext = {
    jobId: chunk.jobId,
    n: chunk.n,
    storageId: storage.id,
    orgId: storage.orgId,
    projectId: project.id,
    ordered: false,
    deletions,
    removeAnnotated: removesAnnotated(storage),
    blob: !!config.use_blob_urls,
    dataKey: project.data_keys?.[0] ?? '$undefined$',
    events: true,
  };
  const marks = new Map<string, EventMarks>(fresh.map((l) => [l.e.key, { ev_seq: l.e.sequencer, ev_time: l.e.eventTime }]));
  const r = await applyEntries(deps, ctx, importSource(deps, config, provider), chunk, entries, links, {
    gone,
    writeLinks: provider.ordered
      ? (c) => putOverlays(db, storage.id, c.written, c.gone.map((l) => l.key), marks, settings.writeConcurrency)
      : (c) => writeChunkLinks(db, chunk, { links }, c, ctx, settings.writeConcurrency),
  });
  const c = r.counters;
  out.created += c.created ?? 0;
  out.updated += c.updated ?? 0;
  out.unchanged += c.unchanged ?? 0;
  out.removed += c.removed ?? 0;
  out.flagged += (c.flagged ?? 0) + (c.flagged_annotated ?? 0);
  out.failed += r.failures.length;
  out.taskIds.push(...r.taskIds);
  for (const f of r.failures.slice(0, Math.max(0, MAX_ERRORS - out.errors.length))) out.errors.push({ key: f.key, reason: f.reason });
  // Counted once per batch even when a redelivery runs it again.
  if ((await completeChunk(db, chunk.jobId, chunk.n, {})) && (c.created || r.labeled || r.predictions)) {
    await adjustProjectCounters(db, project.id, { tasks: c.created, annotations: r.labeled, predictions: r.predictions });
  }
  recordLag(fresh.filter((l) => !('error' in l)).map((l) => l.e));
  await emitTasksCreated(deps, project, r.tasks, `${chunk.jobId}-created`);
  await emitTasksDeleted(deps, project, r.deletedTaskIds, `${chunk.jobId}-deleted`);
  return out;
}

/** Links of the keys as a full sync would see them, and the ordering marks of the last events applied. */
async function loadLinks(deps: SyncDeps, storageId: number, ordered: boolean, keys: string[]): Promise<{ links: Map<string, StepLink>; applied: Map<string, Marks> }> {
  const applied = new Map<string, Marks>();
  if (!ordered) return { links: await getLinks(deps.db, storageId, keys), applied };
  const [runs, tombs] = await Promise.all([getRuns(deps.db, storageId), getTombRecords(deps.db, storageId, keys)]);
  const links: Map<string, StepLink> = await linksOfKeys(deps.db, storageId, runs, keys);
  for (const [k, t] of tombs) if (isOverlay(t)) applied.set(k, { seq: t.ev_seq, time: t.ev_time });
  mergeTombRecords(storageId, links, tombs);
  return { links, applied };
}

/**
 * The chunk item of a batch, stored (its id plans survive a redelivery of the same batch): job id
 * `ev-<storageId>-<hash of the batch's keys, versions and removals>`.
 */
async function eventChunk(db: SyncDeps['db'], storageId: number, entries: ChunkEntry[], gone: StepLink[]): Promise<ChunkItem> {
  const h = createHash('sha256');
  h.update(JSON.stringify([storageId, entries.map((e) => [e.k, e.e ?? '', e.s ?? '', e.m ?? '']), gone.map((l) => l.key)]));
  const jobId = `ev-${storageId}-${h.digest('base64url').slice(0, 22)}`;
  const chunk: ChunkItem = { kind: 'chunk', jobId, n: 0, entries, from: null, to: null, ordered: false };
  const { kind: _k, ...stored } = chunk;
  await putChunks(db, [stored]);
  return (await getChunk(db, jobId, 0)) ?? chunk;
}

/** Lag of the batch's oldest event that carries an event time (the tasks are readable now). */
function recordLag(events: ObjectEvent[]): void {
  const times = events.map((e) => (e.eventTime ? Date.parse(e.eventTime) : NaN)).filter(Number.isFinite);
  if (times.length) recordObjectEventLag(Math.max(0, Date.now() - Math.min(...times)));
}

/** How the batch reads objects and what URI blob-mode tasks get (as the chunk step's). */
function importSource(deps: SyncDeps, config: StorageConfig, provider: StorageProvider): ImportChunkSource {
  const { localFilesDocumentRoot, publicBaseUrl } = deps.settings;
  const base = backend(config.type)?.capabilities?.relativeUri ? publicBaseUrl : '';
  return { provider, blob: !!config.use_blob_urls, blobUri: (key) => base + uriFor(config, key, localFilesDocumentRoot) };
}

/** Adds the outcome to the storage's meta (`events_applied`, `events_last_at`, last error). */
async function recordOutcome(deps: SyncDeps, storageId: number, out: ObjectEventsOutcome): Promise<void> {
  const applied = out.created + out.updated + out.removed + out.flagged;
  countObjectEvents({ received: out.received, applied, coalesced: out.coalesced });
  await writeStorageSyncState(
    deps.db,
    storageId,
    {
      metaAdd: { events_received: out.received, events_applied: applied, events_failed: out.failed },
      metaEntries: { events_last_at: pyTime(new Date()), ...(out.errors.length ? { events_last_error: `${out.errors[0].key}: ${out.errors[0].reason}`.slice(0, 1000) } : {}) },
      touch: false,
    },
  );
}

const toPending = (e: ObjectEvent): PendingEvent => ({ key: e.key, kind: e.kind, etag: e.etag, size: e.size, lastModified: e.lastModified?.toISOString(), sequencer: e.sequencer, eventTime: e.eventTime });
const fromPending = (p: PendingEvent): ObjectEvent => ({ ...p, lastModified: p.lastModified ? new Date(p.lastModified) : undefined });
