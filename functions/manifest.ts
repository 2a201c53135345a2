/**
 * The deployable units and the HTTP routes, declared once. The CDK app builds one Lambda per
 * function and one API Gateway route per route from this list; the local runtime (`npm start`)
 * dispatches HTTP requests with the same table, so local and deployed routing cannot drift.
 *
 * Each route is registered twice in API Gateway: the bare path and `path/{proxy+}`. Handlers
 * route internally on `event.rawPath` (trailing slash optional everywhere).
 */
export type FunctionName =
  | 'meta'
  | 'projects'
  | 'storages'
  | 'resolve'
  | 'syncStart'
  | 'syncList'
  | 'syncChunk'
  | 'syncFinalize'
  | 'syncExecutionFailed'
  | 'exportStream'
  | 'exportReplay'
  | 'sweeper'
  | 'storageEvents';

export interface FunctionSpec {
  /** Path of the handler module, relative to the repo root; it exports `handler`. */
  entry: string;
  description: string;
  /** Seconds. */
  timeout: number;
  memoryMb: number;
  /** Minutes between scheduled invocations: an EventBridge rate rule in AWS, a timer in `npm start`. */
  everyMinutes?: number;
}

export const FUNCTIONS: Record<FunctionName, FunctionSpec> = {
  meta: { entry: 'functions/api/meta.ts', description: 'health and OpenAPI document', timeout: 10, memoryMb: 256 },
  projects: { entry: 'functions/api/projects.ts', description: 'projects, task import, tasks and annotations', timeout: 29, memoryMb: 1024 },
  storages: { entry: 'functions/api/storages.ts', description: 'import and export storage configuration, validate, sync start', timeout: 29, memoryMb: 1024 },
  resolve: { entry: 'functions/api/resolve.ts', description: 'storage URI resolution: presigned redirect or proxied stream; local files', timeout: 29, memoryMb: 1024 },
  syncStart: { entry: 'functions/sync/start.ts', description: 'sync job: move to in_progress, plan the listing', timeout: 60, memoryMb: 512 },
  syncList: { entry: 'functions/sync/list.ts', description: 'sync job: time-boxed listing step that stores chunk references', timeout: 300, memoryMb: 1024 },
  syncChunk: { entry: 'functions/sync/chunk.ts', description: 'sync job: turn one chunk of objects (or annotations) into tasks (or exported objects)', timeout: 300, memoryMb: 1024 },
  syncFinalize: { entry: 'functions/sync/finalize.ts', description: 'sync job: deletions, final status and counters', timeout: 300, memoryMb: 1024 },
  syncExecutionFailed: { entry: 'functions/sync/execution-failed.ts', description: 'sync job: mark the storage failed when its execution fails, times out or is stopped', timeout: 60, memoryMb: 256 },
  exportStream: { entry: 'functions/export/stream.ts', description: 'DynamoDB stream consumer: annotation changes to target storages', timeout: 120, memoryMb: 1024 },
  exportReplay: { entry: 'functions/export/replay.ts', description: 'export DLQ to recorded failures; scheduled replay of recorded failures', timeout: 300, memoryMb: 1024, everyMinutes: 15 },
  // 4 min: a run ends before the next one starts.
  sweeper: { entry: 'functions/ops/sweeper.ts', description: 'finishes deleting projects whose delete request ran out of time', timeout: 240, memoryMb: 512, everyMinutes: 5 },
  storageEvents: { entry: 'functions/events/storage-events.ts', description: 'S3 object notifications (EventBridge → SQS) to event-synced storages', timeout: 120, memoryMb: 1024 },
};

export interface RouteSpec {
  /** Path prefix as API Gateway sees it (no trailing slash). */
  path: string;
  fn: FunctionName;
}

/** Longest prefix wins. Anything unmatched is answered by `meta` (404 JSON). */
export const ROUTES: RouteSpec[] = [
  { path: '/health', fn: 'meta' },
  { path: '/api/openapi.json', fn: 'meta' },
  { path: '/api/projects', fn: 'projects' },
  { path: '/api/tasks', fn: 'projects' },
  { path: '/api/annotations', fn: 'projects' },
  // The organization's external id is generated on first read: a function that writes the table.
  { path: '/api/organizations', fn: 'projects' },
  { path: '/api/storages', fn: 'storages' },
  { path: '/tasks', fn: 'resolve' },
  { path: '/projects', fn: 'resolve' },
  { path: '/data/local-files', fn: 'resolve' },
];

/** The function that answers a raw request path (used by the local runtime). */
export function functionForPath(rawPath: string): FunctionName {
  let best: RouteSpec | undefined;
  for (const r of ROUTES) {
    if ((rawPath === r.path || rawPath.startsWith(r.path + '/')) && (!best || r.path.length > best.path.length)) best = r;
  }
  return best ? best.fn : 'meta';
}
