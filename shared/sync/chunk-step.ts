/**
 * One chunk of a sync job: objects → tasks (import, shared/sync/import-chunk/) or references →
 * exported objects (export, through the export implementation). The chunk is then marked done and
 * its counters added to the job in one transaction (exactly once), the project's counters follow,
 * and the job's progress is mirrored into the storage.
 */
import type { StorageItem } from '../db/items';
import { completeChunk, getChunk, type ChunkItem } from '../db/repo-chunks';
import { getJob, mirrorProgress, type JobCounters } from '../db/repo-jobs';
import { adjustProjectCounters } from '../db/repo-projects';
import { MAX_FAILURES, putFailures } from '../db/repo-sync-failures';
import { backend, uriFor } from '../storage/registry';
import type { StorageConfig, StorageProvider } from '../storage/types';
import type { SyncDeps } from './deps';
import { importChunk } from './import-chunk/import-chunk';
import { loadLiveJob } from './job-context';

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

/** What a chunk adds to its job and project. */
interface ChunkOutcome {
  counters: Partial<JobCounters>;
  project?: number;
  annotationsLabeled?: number;
  predictions?: number;
}

/** Runs one chunk. Never throws for per-object problems (they are recorded); infrastructure errors throw (the chunk is retried). */
export async function chunkStep(deps: SyncDeps, input: ChunkStepInput): Promise<ChunkStepResult> {
  const [chunk, live] = await Promise.all([getChunk(deps.db, input.jobId, input.chunk), loadLiveJob(deps, input.storageId, input.jobId)]);
  if (!chunk) return { chunk: input.chunk, status: 'missing' };
  if (chunk.done) return { chunk: input.chunk, status: 'already_done' };
  if ('stop' in live) return { chunk: input.chunk, status: 'stopped' };
  const c = input.role === 'export'
    ? await exportChunk(deps, live.storage, live.config, live.provider, chunk)
    : await importChunk(deps, live.storage, importSource(deps, live.config, live.provider), chunk);
  if (!c) return { chunk: input.chunk, status: 'stopped' };
  const first = await completeChunk(deps.db, input.jobId, input.chunk, c.counters);
  if (!first) return { chunk: input.chunk, status: 'already_done' };
  if (c.project && (c.counters.created || c.annotationsLabeled || c.predictions)) {
    await adjustProjectCounters(deps.db, c.project, { tasks: c.counters.created, annotations: c.annotationsLabeled, predictions: c.predictions });
  }
  await mirrorProgress(deps.db, input.storageId, input.jobId, deps.settings.progressEveryMs);
  return { chunk: input.chunk, status: 'done', counters: c.counters };
}

/**
 * How an import chunk reads the storage's objects, and the URI its blob-mode tasks point at
 * (a type whose URIs are paths on this service gets the public base URL in front).
 */
function importSource(deps: SyncDeps, config: StorageConfig, provider: StorageProvider) {
  const { localFilesDocumentRoot, publicBaseUrl } = deps.settings;
  const base = backend(config.type)?.capabilities?.relativeUri ? publicBaseUrl : '';
  return {
    provider,
    blob: !!config.use_blob_urls,
    blobUri: (key: string) => base + uriFor(config, key, localFilesDocumentRoot),
  };
}

async function exportChunk(deps: SyncDeps, storage: StorageItem, config: StorageConfig, provider: StorageProvider, chunk: ChunkItem): Promise<ChunkOutcome> {
  const items = chunk.items ?? [];
  const res = await deps.exporter.exportChunk(deps.db, storage, { config, provider }, items);
  const job = await getJob(deps.db, chunk.jobId);
  if (res.failures.length && (job?.failed ?? 0) < MAX_FAILURES) await putFailures(deps.db, chunk.jobId, chunk.n, res.failures);
  return { counters: { processed: items.length, created: res.written, failed: res.failures.length } };
}
