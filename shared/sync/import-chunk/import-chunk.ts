/**
 * One import chunk: listed objects → tasks, as a sequence of phases (each idempotent, so a retried
 * or crashed attempt converges):
 * 1. digest: a chunk the previous clean job left exactly as listed is skipped whole;
 * 2. links: the range's link pages and tombstones (ordered) or a BatchGet of its keys;
 * 3. classify: new, changed, unchanged (neither read nor written), already handled by this job;
 * 4. read and parse new and changed objects;
 * 5. plan ids: reserved as a block and stored on the chunk before anything is written;
 * 6. build the task/annotation items, updates and links (pure);
 * 7. write tasks and annotations, update changed tasks in place;
 * 8. apply deletions to gone objects and lost rows;
 * 9. write the links (a link exists only once its tasks do);
 * 10. record failures and the chunk's digest.
 * Phases 3–9 are {@link applyEntries}, which event sync runs too (shared/sync/object-events/).
 * Marking the chunk done and adding its counters (exactly once) is the chunk step's.
 */
import type { StorageItem, TaskItem } from '../../db/items';
import type { ChunkEntry, ChunkItem } from '../../db/repo-chunks';
import { getChunkDigestJob, putChunkDigest } from '../../db/repo-digests';
import { getJob } from '../../db/repo-jobs';
import { getRuns } from '../../db/repo-link-pages';
import { getProject } from '../../db/repo-projects';
import { MAX_FAILURES, putFailures } from '../../db/repo-sync-failures';
import type { StorageProvider } from '../../storage/types';
import { emitTasksCreated, emitTasksDeleted } from '../task-events';
import type { SyncDeps } from '../deps';
import { applyChunkDeletions, removesAnnotated } from './apply-deletions';
import { buildItems } from './build-items';
import { classifyEntries } from './classify';
import { dedupe, importChunkDigest } from './digest';
import { loadChunkLinks, rangeHasOverlays, writeChunkLinks, type LinkChanges } from './links';
import { idNeeds, planIds } from './plan-ids';
import { readObjects, sortReadResults } from './read-objects';
import { addCounters, zeroCounters, type Counters, type ImportChunkContext, type StepLink, type SyncFailure } from './types';
import { tombLostRows, writeItems } from './write-items';

/** What a completed import chunk adds to the job and the project. */
export interface ImportChunkOutcome {
  counters: Counters;
  project: number;
  annotationsLabeled?: number;
  predictions?: number;
}

/** How an import chunk reaches the storage's objects. */
export interface ImportChunkSource {
  provider: Pick<StorageProvider, 'read'>;
  /** The URI a blob-mode task points at. */
  blobUri(key: string): string;
  blob: boolean;
}

/**
 * Runs the phases of one import chunk. Undefined when the job or the project is gone (the chunk
 * stops). Per-object problems are recorded, never thrown; infrastructure errors throw.
 */
export async function importChunk(deps: SyncDeps, storage: StorageItem, source: ImportChunkSource, chunk: ChunkItem): Promise<ImportChunkOutcome | undefined> {
  const { db, settings } = deps;
  const [job, project, runs] = await Promise.all([getJob(db, chunk.jobId), getProject(db, storage.projectId), chunk.ordered ? getRuns(db, storage.id) : []]);
  if (!job || !project) return undefined;
  const ctx: ImportChunkContext = {
    jobId: chunk.jobId,
    n: chunk.n,
    storageId: storage.id,
    orgId: storage.orgId,
    projectId: project.id,
    ordered: chunk.ordered,
    deletions: job.sync_deletions ?? 'keep',
    removeAnnotated: removesAnnotated(storage),
    blob: source.blob,
    dataKey: project.data_keys?.[0] ?? '$undefined$',
  };
  const counters = zeroCounters();
  counters.processed = chunk.entries.length;
  const entries = dedupe(chunk.entries);

  const digest = importChunkDigest(chunk, entries, ctx);
  // Links event sync wrote since (overlays) are not in the pages the digest vouches for.
  if (digest && job.trust_digests_of && (await getChunkDigestJob(db, storage.id, digest)) === job.trust_digests_of && !(chunk.ordered && (await rangeHasOverlays(db, storage.id, chunk.from, chunk.to)))) {
    addCounters(counters, { unchanged: entries.length, chunks_unchanged: 1 });
    await putChunkDigest(db, storage.id, digest, ctx.jobId);
    return { counters, project: project.id };
  }

  const loaded = await loadChunkLinks(db, storage.id, chunk, runs, entries.map((e) => e.k));
  const r = await applyEntries(deps, ctx, source, chunk, entries, loaded.links, {
    writeLinks: (changes) => writeChunkLinks(db, chunk, loaded, changes, ctx, settings.writeConcurrency),
  });
  addCounters(counters, r.counters);
  if (r.failures.length && job.failed < MAX_FAILURES) await putFailures(db, ctx.jobId, ctx.n, r.failures);
  // Only a chunk that left its range exactly as listed may be skipped next time.
  if (digest && r.exact) await putChunkDigest(db, storage.id, digest, ctx.jobId);
  await emitTasksCreated(deps, project, r.tasks, `sync-${ctx.jobId}-chunk-${ctx.n}`);
  await emitTasksDeleted(deps, project, r.deletedTaskIds, `sync-${ctx.jobId}-chunk-${ctx.n}-deleted`);
  return { counters, project: project.id, annotationsLabeled: r.labeled, predictions: r.predictions };
}

/** What {@link applyEntries} did. */
export interface AppliedEntries {
  counters: Partial<Counters>;
  failures: SyncFailure[];
  /** Nothing failed and no row was lost: the links are exactly the entries' state. */
  exact: boolean;
  labeled: number;
  predictions: number;
  /** Ids of the tasks written new. */
  taskIds: number[];
  /** The tasks written new (TASKS_CREATED payloads). */
  tasks: TaskItem[];
  /** Ids of the tasks the deletion mode removed (TASKS_DELETED). */
  deletedTaskIds: number[];
}

/**
 * Phases 3–9 over deduplicated `entries` and their loaded `links`: the one per-key path of both
 * the chunk step and event sync (shared/sync/object-events/). `gone` adds links of objects known
 * to be removed (events) to those the range diff finds; `writeLinks` stores the changed links
 * once the tasks exist (pages, link items or overlays).
 */
export async function applyEntries(
  deps: SyncDeps,
  ctx: ImportChunkContext,
  source: ImportChunkSource,
  chunk: ChunkItem,
  entries: ChunkEntry[],
  links: Map<string, StepLink>,
  opts: { gone?: StepLink[]; writeLinks(changes: LinkChanges): Promise<void> },
): Promise<AppliedEntries> {
  const { db, settings } = deps;
  const classified = classifyEntries(entries, links, ctx);
  const results = await readObjects(source.provider, classified.toRead, ctx, { ...settings, blobUri: source.blobUri });
  const sorted = sortReadResults(classified.toRead, results, ctx);
  const plan = await planIds(db, chunk, idNeeds(sorted.work));
  const now = new Date().toISOString();
  const built = buildItems(sorted.work, plan, ctx, now);

  const written = await writeItems(db, built.items, built.updates, settings.writeConcurrency);
  tombLostRows(built.links, written.lost, ctx.blob);
  const deleted = await applyChunkDeletions(deps, [...classified.gone, ...(opts.gone ?? [])], built.stale, built.links, ctx, now);
  const changes = { written: [...built.links, ...classified.touched, ...sorted.touched, ...deleted.goneLinks], gone: deleted.removedLinks };
  await opts.writeLinks(changes);

  const failures = [...sorted.failures, ...built.failures];
  const counters = zeroCounters();
  addCounters(counters, classified.counters);
  addCounters(counters, {
    unchanged: sorted.unchanged,
    created: built.created,
    updated: built.updated - written.lostCounted,
    annotations: built.annotations,
    removed: deleted.removed,
    flagged: deleted.flagged,
    flagged_annotated: deleted.flaggedAnnotated,
    failed: failures.length,
  });
  const tasks = built.items.filter((it): it is TaskItem => it.kind === 'task');
  const taskIds = tasks.map((t) => t.id);
  return { counters, failures, exact: !failures.length && !written.lost.size, labeled: built.labeled, predictions: built.predictions, taskIds, tasks, deletedTaskIds: deleted.removedIds };
}
