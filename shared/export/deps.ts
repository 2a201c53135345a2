/**
 * What the export use cases need, built once per process by the handler (or by a test with
 * emulator-backed parts).
 */
import type { Db } from '../db/repo-common';
import type { StorageConfig, StorageProvider } from '../storage/types';
import type { ExportLinkStore } from '../db/repo-export-links';
import type { EventSink } from '../webhooks/types';
import type { ExportTarget } from './targets';

export interface ExportDeps {
  db: Db;
  links: ExportLinkStore;
  /** The project's export storages, configs decrypted. */
  targets: (projectId: number) => Promise<ExportTarget[]>;
  /** The provider of a storage config (the registry caches them). */
  provider: (config: StorageConfig) => Promise<StorageProvider>;
  now?: () => Date;
  /** Annotations handled at once within a batch or chunk (default 8). */
  concurrency?: number;
  /** EXPORT_FAILED events go here; none when absent. */
  events?: EventSink;
}

/** Default number of annotations in flight. */
export const DEFAULT_EXPORT_CONCURRENCY = 8;
