/**
 * What the sync use cases need, passed as one parameter: the table, how to turn a stored storage
 * into a decrypted config and a provider, and the tuning knobs. Handlers build it once per cold
 * start with `app.syncDeps()` (shared/app.ts); tests pass emulator-backed ones.
 */
import type { StorageItem } from '../db/items';
import type { Db } from '../db/repo-common';
import type { StorageConfig, StorageProvider } from '../storage/types';
import type { EventSink } from '../webhooks/types';
import type { ExportSyncHooks } from './export-hooks';
import { DEFAULT_PARSE_LIMITS, type ParseLimits } from './parse-tasks';

export interface SyncSettings {
  /** Objects per chunk (env LABELSYNC_SYNC_CHUNK_SIZE). */
  chunkSize: number;
  /** Cap of one chunk item's entries in bytes (DynamoDB items stop at 400 KB). */
  maxChunkBytes: number;
  /** Longest a listing step lists before handing its chunks to the writers. */
  listStepMs: number;
  /** At most this many chunk references per listing step (keeps the state payload small). */
  maxChunksPerStep: number;
  /**
   * The first listing step of a job ends after this many chunks (or {@link firstStepMs}), so the
   * writers start while the rest is listed: 4× the chunk map's concurrency (env
   * LABELSYNC_SYNC_CONCURRENCY, see shared/app.ts) keeps them busy while the next step lists.
   */
  firstStepChunks: number;
  /** Time box of the first listing step; step i gets firstStepMs × 2^i, at most {@link listStepMs}. */
  firstStepMs: number;
  /**
   * Key ranges listed concurrently by a listing of an ordered provider that seeks (env
   * LABELSYNC_LIST_PARTITIONS); 1 lists through one continuation token.
   */
  listPartitions: number;
  /**
   * Chunks written at once (env LABELSYNC_SYNC_CONCURRENCY, the chunk map's MaxConcurrency); event
   * sync applies that many key-disjoint batches of one call at once.
   */
  chunkConcurrency: number;
  /** Concurrent object reads inside one chunk (JSON mode). */
  readConcurrency: number;
  /** Concurrent BatchWriteItem calls inside one chunk (env LABELSYNC_SYNC_WRITE_CONCURRENCY). */
  writeConcurrency: number;
  /** Largest JSON task file read (env LABELSYNC_MAX_TASK_FILE_BYTES). */
  maxTaskFileBytes: number;
  parseLimits: ParseLimits;
  /** Progress is mirrored into the storage's meta at most this often. */
  progressEveryMs: number;
  /** Prefix of local-files task URLs (env LABELSYNC_PUBLIC_BASE_URL, no trailing slash). */
  publicBaseUrl: string;
  /** Root local-files task URLs are relative to (env LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT). */
  localFilesDocumentRoot: string;
}

export const DEFAULT_SYNC_SETTINGS: SyncSettings = {
  chunkSize: 1000,
  maxChunkBytes: 300 * 1024,
  listStepMs: 20_000,
  maxChunksPerStep: 1000,
  firstStepChunks: 32,
  firstStepMs: 1_000,
  listPartitions: 16,
  chunkConcurrency: 8,
  readConcurrency: 16,
  writeConcurrency: 8,
  maxTaskFileBytes: 50 * 1024 * 1024,
  parseLimits: DEFAULT_PARSE_LIMITS,
  progressEveryMs: 3_000,
  publicBaseUrl: '',
  localFilesDocumentRoot: '/',
};

export interface SyncDeps {
  db: Db;
  /** The stored storage with its secrets decrypted, as the provider registry takes it. */
  storageConfig(storage: StorageItem): Promise<StorageConfig>;
  /** The (cached) provider of a config. */
  getProvider(config: StorageConfig, storageId: number): Promise<StorageProvider>;
  /** Storages of a project in one role (for the export-prefix rule). */
  projectStorages(projectId: number, role: 'import' | 'export'): Promise<StorageItem[]>;
  /** The export implementation (`role: "export"` jobs list and write through it). */
  exporter: ExportSyncHooks;
  settings: SyncSettings;
  /** Webhook and event-bus events (TASKS_CREATED per chunk, sync completed/failed); none when absent. */
  events?: EventSink;
}
