/**
 * Shapes of the items in the single table that more than one module reads. Field names of
 * user-visible records are Label Studio's. Timestamps are ISO-8601 strings.
 */
export interface OrgItem {
  kind: 'org';
  id: string;
  title: string;
  created_at: string;
  /** STS external id of the organization's assumed roles; set once, never changed. */
  external_id?: string;
}
export interface TokenItem { kind: 'token'; orgId: string; userId: number; created_at: string; label?: string }

export interface ProjectItem {
  kind: 'project';
  id: number;
  orgId: string;
  title: string;
  description: string;
  label_config: string;
  /** Data variables of the label config in order (`$image` → `image`); first one names blob-mode data. */
  data_keys: string[];
  /** Counters kept by the task/annotation repositories (atomic ADD), so listings need no COUNT query. */
  task_number?: number;
  total_annotations_number?: number;
  total_predictions_number?: number;
  created_at: string;
  updated_at: string;
}

export interface TaskItem {
  kind: 'task';
  id: number;
  projectId: number;
  orgId: string;
  data: Record<string, unknown>;
  meta?: Record<string, unknown>;
  predictions?: unknown[];
  allow_skip?: boolean;
  is_labeled: boolean;
  total_annotations: number;
  cancelled_annotations: number;
  total_predictions: number;
  /** Where a synced task came from; absent for tasks imported through the API. */
  source?: { storageId: number; key: string; row_index: number | null };
  /** Set by sync_deletions = "flag" when the source object is gone. */
  object_exists?: boolean;
  created_at: string;
  updated_at: string;
}

export interface AnnotationItem {
  kind: 'annotation';
  id: number;
  taskId: number;
  projectId: number;
  orgId: string;
  result: unknown[];
  completed_by: number | null;
  ground_truth: boolean;
  lead_time: number | null;
  was_cancelled: boolean;
  /** Incremented on every update; export never overwrites a newer version with an older one. */
  version: number;
  import_id?: number | null;
  created_at: string;
  updated_at: string;
}

export type SyncStatus = 'initialized' | 'queued' | 'in_progress' | 'failed' | 'completed' | 'completed_with_errors';

export interface StorageItem {
  kind: 'storage';
  id: number;
  projectId: number;
  orgId: string;
  type: import('../storage/types').StorageType;
  role: import('../storage/types').StorageRole;
  /** Every non-secret field as the API shows it (title, bucket, prefix, presign_ttl, ...). */
  fields: Record<string, unknown>;
  /** Envelope-encrypted JSON of the secret fields (see shared/crypto); never returned. */
  secrets?: string;
  /** Names of the secret fields stored in `secrets` (responses show `has_<name>` without decrypting). */
  secret_fields?: string[];
  status: SyncStatus;
  last_sync: string | null;
  last_sync_count: number | null;
  last_sync_job: string | null;
  traceback: string | null;
  meta: Record<string, unknown>;
  synchronizable: boolean;
  /**
   * Set when the storage is deleted: the item stays as a tombstone (out of every listing, gone
   * for the API, expired by TTL) so a running sync job sees `cancelled` and stops.
   */
  cancelled?: boolean;
  deleted_at?: string;
  /** Scheduled-sync counters (shared/db/repo-scheduled-runs.ts), shown inside `meta`. */
  scheduled_runs?: number;
  scheduled_runs_skipped?: number;
  scheduled_runs_failed?: number;
  last_scheduled_run_at?: string;
  last_scheduled_run_error?: string;
  created_at: string;
  updated_at: string;
}
