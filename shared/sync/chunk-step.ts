/**
 * One chunk of a sync job: objects → tasks (import) or references → exported objects (export).
 *
 * Import, in order (each phase idempotent, so a retried or crashed attempt converges):
 * 1. the chunk's links: the link pages of its key range and the tombstones in it (ordered
 *    providers: also finds deleted objects in the range) or a BatchGet of its keys (unordered);
 * 2. classify: new, changed (version differs), unchanged (skipped: neither read nor written),
 *    already handled by this job (at-least-once listings);
 * 3. read and parse new/changed objects (JSON mode, bounded concurrency; blob mode reads nothing);
 * 4. reserve ids as a block and store the plan on the chunk item *before* writing: a retry reuses
 *    the plan, so task puts overwrite instead of duplicating;
 * 5. batch-write tasks and annotations, update changed tasks in place (conditional on the task
 *    still existing — a deleted task is never recreated), apply deletions;
 * 6. write the links (a link exists only once its tasks do): the range's complete state as link
 *    pages (ordered), or one item per changed link (unordered);
 * 7. one transaction marks the chunk done and adds its counters to the job (exactly once).
 */
import { createHash } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { env } from '../config/env';
import { reserveIds } from '../db/counters';
import type { AnnotationItem, ProjectItem, StorageItem, TaskItem } from '../db/items';
import { keys } from '../db/keys';
import { annotationToItem } from '../db/repo-annotations';
import { batchWrite, isConditionalFailure } from '../db/repo-common';
import { getRuns, loadPagedLinks, writePages } from '../db/repo-link-pages';
import { adjustProjectCounters, getProject } from '../db/repo-projects';
import { addChunkPlan, chunkPlans, completeChunk, getChunk, type ChunkEntry, type ChunkItem, type ChunkPlan } from '../db/repo-chunks';
import { deleteLinks, getLinks, putLinks, queryTombRange, deleteTombs, taskIdOfRow, type LinkItem } from '../db/repo-links';
import { getChunkDigestJob, putChunkDigest } from '../db/repo-digests';
import { getJob, mirrorProgress, type JobCounters, type SyncDeletions } from '../db/repo-jobs';
import { MAX_FAILURES, putFailures, type SyncFailure } from '../db/repo-sync-failures';
import { deleteTask, getTasks, taskToItem, updateTask } from '../db/repo-tasks';
import { mapLimit } from '../storage/common';
import { uriFor } from '../storage/registry';
import type { StorageConfig, StorageProvider } from '../storage/types';
import type { SyncDeps } from './deps';
import { getExportSyncHooks } from './export-hooks';
import { loadLiveJob } from './job-context';
import { parseTaskFile, type ParsedRow } from './parse-tasks';

export interface ChunkStepInput {
  storageId: number;
  jobId: string;
  role: 'import' | 'export';
  chunk: number;
}

export interface ChunkStepResult {
  chunk: number;
  status: 'done' | 'already_done' | 'stopped' | 'missing';
  counters?: Partial<JobCounters>;
}

type Counters = { [K in keyof JobCounters]: number };
const zero = (): Counters => ({
  listed: 0, processed: 0, created: 0, updated: 0, removed: 0, flagged: 0, unchanged: 0, failed: 0, skipped_export: 0, annotations: 0, chunks: 0, chunks_unchanged: 0,
});

/** Link fields this step adds (who wrote it and what that attempt did, for exact retry counts). */
type StepLink = LinkItem & { chunk?: number; createdRows?: number; updatedRows?: number };

/** True when the listed entry has the version the link recorded. */
export function sameVersion(link: Pick<LinkItem, 'etag' | 'size' | 'mtime'>, e: ChunkEntry): boolean {
  if (link.etag !== undefined && e.e !== undefined) return link.etag === e.e && (link.size === undefined || e.s === undefined || link.size === e.s);
  if (link.mtime !== undefined && e.m !== undefined) return link.mtime === e.m && link.size === e.s;
  return false;
}

/** Runs one chunk. Never throws for per-object problems (they are recorded); infrastructure errors throw (the chunk is retried). */
export async function chunkStep(deps: SyncDeps, input: ChunkStepInput): Promise<ChunkStepResult> {
  const [chunk, live] = await Promise.all([getChunk(deps.db, input.jobId, input.chunk), loadLiveJob(deps, input.storageId, input.jobId)]);
  if (!chunk) return { chunk: input.chunk, status: 'missing' };
  if (chunk.done) return { chunk: input.chunk, status: 'already_done' };
  if ('stop' in live) return { chunk: input.chunk, status: 'stopped' };
  const c = input.role === 'export' ? await exportChunk(deps, live.storage, live.config, live.provider, chunk) : await importChunk(deps, live.storage, live.config, live.provider, chunk);
  if (!c) return { chunk: input.chunk, status: 'stopped' };
  const first = await completeChunk(deps.db, input.jobId, input.chunk, c.counters);
  if (!first) return { chunk: input.chunk, status: 'already_done' };
  if (c.project && (c.counters.created || c.annotationsLabeled || c.predictions)) {
    await adjustProjectCounters(deps.db, c.project, { tasks: c.counters.created, annotations: c.annotationsLabeled, predictions: c.predictions });
  }
  await mirrorProgress(deps.db, input.storageId, input.jobId, deps.settings.progressEveryMs);
  return { chunk: input.chunk, status: 'done', counters: c.counters };
}

interface ChunkOutcome {
  counters: Partial<JobCounters>;
  project?: number;
  annotationsLabeled?: number;
  predictions?: number;
}

async function exportChunk(deps: SyncDeps, storage: StorageItem, config: StorageConfig, provider: StorageProvider, chunk: ChunkItem): Promise<ChunkOutcome> {
  const items = chunk.items ?? [];
  const res = await getExportSyncHooks().exportChunk(deps.db, storage, { config, provider }, items);
  const job = await getJob(deps.db, chunk.jobId);
  if (res.failures.length && (job?.failed ?? 0) < MAX_FAILURES) await putFailures(deps.db, chunk.jobId, chunk.n, res.failures);
  return { counters: { processed: items.length, created: res.written, failed: res.failures.length } };
}

interface Work {
  e: ChunkEntry;
  link?: StepLink;
  rows: ParsedRow[];
  hash?: string;
}

async function importChunk(deps: SyncDeps, storage: StorageItem, config: StorageConfig, provider: StorageProvider, chunk: ChunkItem): Promise<ChunkOutcome | undefined> {
  const { db, settings } = deps;
  const { jobId, n } = chunk;
  const [job, project, runs] = await Promise.all([getJob(db, jobId), getProject(db, storage.projectId), chunk.ordered ? getRuns(db, storage.id) : []]);
  if (!job || !project) return undefined;
  const deletions: SyncDeletions = job.sync_deletions ?? 'keep';
  const blob = !!config.use_blob_urls;
  const counters = zero();
  counters.processed = chunk.entries.length;
  const failures: SyncFailure[] = [];
  const fail = (key: string, reason: string) => {
    failures.push({ key, reason });
    counters.failed++;
  };

  const entries = dedupe(chunk.entries);
  const dataKey = project.data_keys?.[0] ?? '$undefined$';

  // 0. Unchanged chunk: the previous job (which finished cleanly) left exactly this range, these
  // keys and versions, in this mode — nothing to read or write. Unordered listings with deletions
  // need every link touched (mark-and-sweep), so they never skip.
  const canSkip = chunk.ordered || deletions === 'keep';
  const digest = canSkip ? chunkDigest(chunk, entries, { blob, dataKey, deletions }) : undefined;
  if (digest && job.trust_digests_of) {
    if ((await getChunkDigestJob(db, storage.id, digest)) === job.trust_digests_of) {
      counters.unchanged = entries.length;
      counters.chunks_unchanged = 1;
      await putChunkDigest(db, storage.id, digest, jobId);
      return { counters, project: project.id };
    }
  }

  // 1–2. Links and classification.
  const paged = chunk.ordered ? await loadChunkPages(db, storage.id, chunk, runs) : undefined;
  const links = (paged ? paged.links : await getLinks(db, storage.id, entries.map((e) => e.k))) as Map<string, StepLink>;
  const fresh: ChunkEntry[] = [];
  const changed: { e: ChunkEntry; link: StepLink }[] = [];
  const touched: StepLink[] = [];
  for (const e of entries) {
    const link = links.get(e.k);
    if (!link) fresh.push(e);
    else if (link.jobId === jobId) {
      // Written by this job already: an earlier attempt of this chunk (count what it did) or a
      // key an unordered listing returned twice (nothing to do).
      if (link.chunk === n) {
        counters.created += link.createdRows ?? 0;
        counters.updated += link.updatedRows ?? 0;
      }
    } else if (sameVersion(link, e) && link.object_exists !== false && !hasFailedRows(link)) {
      counters.unchanged++;
      // Mark phase of mark-and-sweep: only needed when deletions are acted upon.
      if (!chunk.ordered && deletions !== 'keep') touched.push({ ...link, jobId, chunk: n, createdRows: 0, updatedRows: 0 });
    } else changed.push({ e, link });
  }
  const seen = new Set(entries.map((e) => e.k));
  const gone = chunk.ordered && deletions !== 'keep'
    ? [...links.values()].filter((l) => !seen.has(l.key) && l.jobId !== jobId && !(deletions === 'flag' && l.object_exists === false))
    : [];

  // 3. Rows of new and changed objects.
  const blobUri = (key: string) => {
    const uri = uriFor(config, key);
    return config.type === 'localfiles' ? env().publicBaseUrl + uri : uri;
  };
  const readRows = async (e: ChunkEntry): Promise<{ rows: ParsedRow[]; hash?: string } | undefined> => {
    if (blob) return { rows: [{ row_index: null, task: { data: { [dataKey]: blobUri(e.k) } } }] };
    try {
      const res = await provider.read(e.k, { maxBytes: settings.maxTaskFileBytes });
      // The content hash lets a re-listed object whose version tag changed (or a backend without
      // version tags, like Redis) be recognised as unchanged without rewriting its tasks.
      const hash = createHash('sha256');
      async function* hashed() {
        for await (const c of res.body as AsyncIterable<Buffer | string>) {
          hash.update(c);
          yield c;
        }
      }
      const rows = await parseTaskFile(e.k, hashed(), settings.parseLimits);
      return { rows, hash: hash.digest('base64url') };
    } catch (err) {
      fail(e.k, readable(err));
      return undefined;
    }
  };
  const work: Work[] = [];
  const toRead: { e: ChunkEntry; link?: StepLink }[] = [...fresh.map((e) => ({ e })), ...changed];
  const read = await mapLimit(toRead, blob ? toRead.length || 1 : settings.readConcurrency, (w) => readRows(w.e));
  toRead.forEach((w, i) => {
    const r = read[i];
    if (r && w.link && r.hash && w.link.hash === r.hash && w.link.object_exists !== false && !hasFailedRows(w.link)) {
      // Same content under a new version tag: nothing to rewrite; remember the new tag.
      counters.unchanged++;
      const tagChanged = w.link.etag !== w.e.e || w.link.size !== w.e.s || w.link.mtime !== w.e.m;
      if (tagChanged || (!chunk.ordered && deletions !== 'keep')) {
        touched.push({ ...w.link, etag: w.e.e, size: w.e.s, mtime: w.e.m, jobId, chunk: n, createdRows: 0, updatedRows: 0 });
      }
    } else if (r) work.push({ e: w.e, link: w.link, rows: r.rows, hash: r.hash });
    // An object that exists but failed to read must survive the sweep of an unordered listing.
    else if (w.link && !chunk.ordered && deletions !== 'keep') touched.push({ ...w.link, jobId, chunk: n, createdRows: 0, updatedRows: 0 });
  });

  // 4. Id plan: new rows of every object that needs ids, reserved once per chunk.
  const needs = new Map<string, { tasks: number; anns: number }>();
  for (const w of work) {
    const newRows = newRowPositions(w);
    if (!newRows.length) continue;
    const anns = newRows.reduce((a, pos) => a + (w.rows[pos]?.task?.annotations?.length ?? 0), 0);
    needs.set(w.e.k, { tasks: newRows.length, anns });
  }
  const plan = await planIds(deps, chunk, needs);

  // 5. Tasks and annotations.
  const now = new Date().toISOString();
  const puts: Record<string, unknown>[] = [];
  const updates: { id: number; data: Record<string, unknown>; source: TaskItem['source']; unflag: boolean; counted: boolean }[] = [];
  let annotationsLabeled = 0;
  let predictions = 0;
  const newLinks: StepLink[] = [];
  const stale: { link: StepLink; rows: number[] }[] = [];
  for (const w of work) {
    const p = plan.objects[w.e.k];
    const link = w.link;
    const tomb = link?.tomb ?? new Set<number>();
    const oldRows = link?.rows ?? 0;
    const absent = new Set<number>(link?.absent ?? []);
    const nowAbsent: number[] = [];
    let nextNew = 0;
    let nextAnn = p ? p[2] : 0;
    let created = 0;
    let updated = 0;
    const ranges: [number, number][] = link ? [...link.idRanges] : [];
    let usedNew = 0;
    const single = w.rows.length === 1 && w.rows[0].row_index === null;
    for (let pos = 0; pos < w.rows.length; pos++) {
      const row = w.rows[pos];
      const rowIndex = row.row_index ?? (single ? null : pos);
      const isNew = pos >= oldRows || absent.has(pos);
      if (tomb.has(rowIndex ?? -1) || (rowIndex === null && tomb.has(0)) || (rowIndex === 0 && tomb.has(-1))) continue;
      if (row.error || !row.task) {
        fail(w.e.k, row.error ?? 'invalid row');
        if (isNew) nowAbsent.push(pos);
        continue;
      }
      const source = { storageId: storage.id, key: w.e.k, row_index: rowIndex };
      if (!isNew) {
        if (!blob || link?.object_exists === false) updates.push({ id: taskIdOfRow(link!, pos)!, data: row.task.data, source, unflag: link?.object_exists === false, counted: !blob });
        if (!blob) updated++;
        continue;
      }
      // New row: its id is the link's (an absent row) or the next one of the plan.
      let id: number | undefined = pos < oldRows ? taskIdOfRow(link!, pos) : undefined;
      if (id === undefined) {
        if (!p || nextNew >= p[1]) {
          fail(w.e.k, `row ${pos}: the object changed while it was being synced; it is imported on the next sync`);
          nowAbsent.push(pos);
          continue;
        }
        id = p[0] + nextNew++;
        usedNew++;
      }
      const anns = (row.task.annotations ?? []).map((a): AnnotationItem => ({
        kind: 'annotation',
        id: nextAnn++,
        taskId: id!,
        projectId: project.id,
        orgId: storage.orgId,
        result: Array.isArray(a.result) ? a.result : [],
        completed_by: null,
        ground_truth: a.ground_truth === true,
        lead_time: typeof a.lead_time === 'number' ? a.lead_time : null,
        was_cancelled: a.was_cancelled === true,
        version: 1,
        import_id: typeof a.id === 'number' ? a.id : null,
        created_at: now,
        updated_at: now,
      }));
      const labeled = anns.filter((a) => !a.was_cancelled).length;
      const preds = row.task.predictions ?? [];
      const task: TaskItem = {
        kind: 'task',
        id,
        projectId: project.id,
        orgId: storage.orgId,
        data: row.task.data,
        ...(preds.length ? { predictions: preds } : {}),
        ...(row.task.allow_skip !== undefined ? { allow_skip: row.task.allow_skip } : {}),
        is_labeled: labeled >= 1,
        total_annotations: labeled,
        cancelled_annotations: anns.length - labeled,
        total_predictions: preds.length,
        source,
        created_at: now,
        updated_at: now,
      };
      puts.push(taskToItem(task), ...anns.map(annotationToItem));
      annotationsLabeled += labeled;
      predictions += preds.length;
      counters.annotations += anns.length;
      created++;
    }
    if (usedNew) ranges.push([p![0], usedNew]);
    // Rows the object no longer has: deletions apply to them as to a deleted object.
    if (link && w.rows.length < oldRows && deletions !== 'keep') {
      const rows: number[] = [];
      for (let pos = w.rows.length; pos < oldRows; pos++) if (!absent.has(pos) && !tomb.has(pos)) rows.push(pos);
      if (rows.length) stale.push({ link, rows });
    }
    counters.created += created;
    counters.updated += updated;
    const rowsNow = Math.max(oldRows, w.rows.length);
    const absentNow = new Set<number>([...[...absent].filter((r) => r >= w.rows.length), ...nowAbsent]);
    if (link && deletions === 'remove') for (const s of stale.filter((x) => x.link === link)) s.rows.forEach((r) => absentNow.add(r));
    newLinks.push({
      kind: 'link',
      storageId: storage.id,
      key: w.e.k,
      ...(w.e.e !== undefined ? { etag: w.e.e } : {}),
      ...(w.e.s !== undefined ? { size: w.e.s } : {}),
      ...(w.e.m !== undefined ? { mtime: w.e.m } : {}),
      ...(w.hash ? { hash: w.hash } : {}),
      single,
      rows: rowsNow,
      idRanges: ranges,
      ...(absentNow.size ? { absent: [...absentNow].sort((a, b) => a - b) } : {}),
      ...(nowAbsent.length ? { failed: nowAbsent.length } : {}),
      ...(link?.tomb?.size ? { tomb: link.tomb } : {}),
      jobId,
      chunk: n,
      createdRows: created,
      updatedRows: updated,
      updated_at: now,
    });
  }

  await batchWrite(db, puts.map((Item) => ({ PutRequest: { Item } })), { concurrency: settings.writeConcurrency });
  const lostRows = new Map<string, number[]>();
  await mapLimit(updates, settings.writeConcurrency, async (u) => {
    const ok = await updateTaskData(deps, u.id, u.data, u.source, u.unflag);
    if (!ok) {
      // Deleted by a user since the last sync: it stays deleted.
      if (u.counted) counters.updated--;
      const rows = lostRows.get(u.source!.key) ?? [];
      rows.push(u.source!.row_index ?? -1);
      lostRows.set(u.source!.key, rows);
    }
  });
  for (const l of newLinks) {
    const lost = lostRows.get(l.key);
    if (lost) {
      l.tomb = new Set([...(l.tomb ?? []), ...lost]);
      if (!blob) l.updatedRows = (l.updatedRows ?? 0) - lost.length;
    }
  }

  // Deleted objects (ordered range diff) and rows an object lost.
  const goneLinks: StepLink[] = [];
  for (const l of gone) {
    const res = await applyDeletion(deps, l, allRows(l), deletions);
    counters.removed += res.removed;
    counters.flagged += res.flagged;
    if (deletions === 'flag') goneLinks.push({ ...l, object_exists: false, jobId, chunk: n, createdRows: 0, updatedRows: 0, updated_at: now });
  }
  for (const s of stale) {
    const res = await applyDeletion(deps, s.link, s.rows, deletions);
    counters.removed += res.removed;
    counters.flagged += res.flagged;
  }

  // 6. Links, once their tasks exist.
  if (paged) {
    // The range's complete state: what was there, with this chunk's changes.
    const final = new Map<string, LinkItem>(links);
    for (const l of [...newLinks, ...touched, ...goneLinks]) final.set(l.key, l);
    if (deletions === 'remove') for (const l of gone) final.delete(l.key);
    await writePages(db, storage.id, paged.run, n, chunk.from, chunk.to, [...final.values()], paged.own, settings.writeConcurrency);
    // Tombstones of removed objects go with them.
    const tombsGone = deletions === 'remove' ? gone.filter((l) => paged.tombKeys.has(l.key)).map((l) => l.key) : [];
    if (tombsGone.length) await deleteTombs(db, storage.id, tombsGone);
  } else {
    await putLinks(db, [...newLinks, ...touched, ...goneLinks], settings.writeConcurrency);
    if (deletions === 'remove' && gone.length) await deleteLinks(db, storage.id, gone.map((l) => l.key));
  }

  if (failures.length && job.failed < MAX_FAILURES) await putFailures(db, jobId, n, failures);
  // Only a chunk that left its range exactly as listed may be skipped next time.
  if (digest && !failures.length && !lostRows.size) await putChunkDigest(db, storage.id, digest, jobId);
  return { counters, project: project.id, annotationsLabeled, predictions };
}

/**
 * Links of an ordered chunk's range: the live runs' pages, plus the storage's tombstones in the
 * range (task deletions write `TOMB#` items, never pages, so they cannot race a sync).
 */
async function loadChunkPages(db: SyncDeps['db'], storageId: number, chunk: ChunkItem, live: string[]) {
  const run = chunk.run ?? `${chunk.jobId}~0`;
  const runs = live.includes(run) ? live : [...live, run];
  const [{ links, own }, tombs] = await Promise.all([
    loadPagedLinks(db, storageId, runs, chunk.from, chunk.to, run),
    queryTombRange(db, storageId, chunk.from, chunk.to),
  ]);
  for (const [key, t] of tombs) {
    if (!t.tomb?.size) continue;
    const link = links.get(key);
    if (link) link.tomb = new Set([...(link.tomb ?? []), ...t.tomb]);
    // A tombstone without a page entry: an empty link whose rows stay deleted.
    else links.set(key, { kind: 'link', storageId, key, single: false, rows: 0, idRanges: [], tomb: t.tomb, jobId: '', updated_at: '' });
  }
  return { links, own, run, tombKeys: new Set(tombs.keys()) };
}

/** Digest of what a chunk stands for: its range, keys, versions and how they become tasks. */
export function chunkDigest(chunk: Pick<ChunkItem, 'from' | 'to' | 'ordered'>, entries: ChunkEntry[], mode: { blob: boolean; dataKey: string; deletions: SyncDeletions }): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([chunk.ordered, chunk.ordered ? chunk.from : null, chunk.ordered ? chunk.to : null, mode.blob, mode.dataKey, mode.deletions]));
  const sorted = chunk.ordered ? entries : [...entries].sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  // One update of the joined lines (the same bytes as one update per line, at a fraction of the calls).
  h.update(sorted.map((e) => `\n${e.k}\u0000${e.e ?? ''}\u0000${e.s ?? ''}\u0000${e.m ?? ''}`).join(''));
  return h.digest('base64url');
}

/** The entries of a chunk without repeated keys (first wins). */
export function dedupe(entries: ChunkEntry[]): ChunkEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => (seen.has(e.k) ? false : (seen.add(e.k), true)));
}

/** Positions of rows that need a new id: rows past what the link knew. */
function newRowPositions(w: Work): number[] {
  const old = w.link?.rows ?? 0;
  const out: number[] = [];
  for (let pos = old; pos < w.rows.length; pos++) out.push(pos);
  return out;
}

function allRows(l: LinkItem): number[] {
  const out: number[] = [];
  const absent = new Set(l.absent ?? []);
  for (let pos = 0; pos < l.rows; pos++) if (!absent.has(pos) && !l.tomb?.has(l.single ? -1 : pos)) out.push(pos);
  return out;
}

/**
 * Reserves ids for every object of `needs` not yet in the chunk's stored plans, stores the new
 * plan set-once, and returns the merged plan (earlier attempts' ids win).
 */
async function planIds(deps: SyncDeps, chunk: ChunkItem, needs: Map<string, { tasks: number; anns: number }>): Promise<ChunkPlan> {
  let current = chunkPlans(chunk);
  for (let attempt = 0; attempt < 5; attempt++) {
    const missing = [...needs].filter(([k]) => !(k in current.objects));
    if (!missing.length) return { objects: current.objects };
    const tasks = missing.reduce((a, [, v]) => a + v.tasks, 0);
    const anns = missing.reduce((a, [, v]) => a + v.anns, 0);
    let t = tasks ? await reserveIds(deps.db, 'task', tasks) : 0;
    let a = anns ? await reserveIds(deps.db, 'annotation', anns) : 0;
    const plan: ChunkPlan = { objects: {} };
    for (const [k, v] of missing) {
      plan.objects[k] = [t, v.tasks, a, v.anns];
      t += v.tasks;
      a += v.anns;
    }
    if (await addChunkPlan(deps.db, chunk.jobId, chunk.n, current.count, plan)) {
      return { objects: { ...plan.objects, ...current.objects } };
    }
    const again = await getChunk(deps.db, chunk.jobId, chunk.n);
    if (!again) throw new Error(`chunk ${chunk.n} of job ${chunk.jobId} disappeared`);
    current = chunkPlans(again);
  }
  throw new Error(`could not store an id plan for chunk ${chunk.n} after 5 attempts`);
}

/** Updates a synced task's data in place (annotations and id kept); false when the task is gone. */
async function updateTaskData(deps: SyncDeps, id: number, data: Record<string, unknown>, source: TaskItem['source'], unflag: boolean): Promise<boolean> {
  try {
    await deps.db.doc.send(
      new UpdateCommand({
        TableName: deps.db.table,
        Key: keys.task(id),
        UpdateExpression: `SET #data = :d, #source = :s, updated_at = :u${unflag ? ', object_exists = :t' : ''}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#data': 'data', '#source': 'source' },
        ExpressionAttributeValues: { ':d': data, ':s': source, ':u': new Date().toISOString(), ...(unflag ? { ':t': true } : {}) },
      }),
    );
    return true;
  } catch (e) {
    if (isConditionalFailure(e)) return false;
    throw e;
  }
}

/**
 * Applies the storage's deletion mode to rows of a link whose object (or rows) disappeared:
 * "remove" deletes the tasks (and their annotations), "flag" sets `object_exists=false`.
 */
export async function applyDeletion(
  deps: SyncDeps,
  link: LinkItem,
  rows: number[],
  mode: SyncDeletions,
): Promise<{ removed: number; flagged: number }> {
  if (mode === 'keep' || !rows.length) return { removed: 0, flagged: 0 };
  const ids = rows.map((r) => taskIdOfRow(link, r)).filter((x): x is number => x !== undefined);
  const tasks = await getTasks(deps.db, ids);
  let removed = 0;
  let flagged = 0;
  await mapLimit([...tasks.values()], deps.settings.writeConcurrency, async (t) => {
    if (mode === 'remove') {
      await deleteTask(deps.db, t);
      removed++;
    } else if (t.object_exists !== false) {
      if (await updateTask(deps.db, t.id, { object_exists: false })) flagged++;
    }
  });
  return { removed, flagged };
}

/**
 * Rows of the object that produced no task (a bad line, a file that did not parse, a row that
 * changed mid-sync). Such an object is read again by every sync, even when unchanged, so its
 * failure stays reported instead of the storage turning `completed` with the error forgotten.
 */
function hasFailedRows(link: StepLink): boolean {
  return (link.failed ?? 0) > 0;
}

/** A secret-free sentence for a per-object failure. */
export function readable(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export type { ProjectItem };
