/** The API's shapes as the console reads them (README "API reference"). */
export interface Project {
  id: number;
  title: string;
  description?: string;
  label_config: string;
  data_keys?: string[];
  task_number?: number;
  total_annotations_number?: number;
  created_at?: string;
}

export interface Storage {
  id: number;
  type: string;
  project: number;
  title?: string | null;
  status?: string;
  last_sync?: string | null;
  last_sync_count?: number | null;
  last_sync_job?: string | null;
  traceback?: string | null;
  meta?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface Task {
  id: number;
  data: Record<string, unknown>;
  total_annotations?: number;
  storage_filename?: string | null;
  object_exists?: boolean;
  annotations?: unknown[];
}
