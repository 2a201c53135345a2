/**
 * Set-up shared by the resolve suites: storages and tasks written through the repositories
 * (secrets sealed with the real secret box), the local HTTP server of the runtime in front of the
 * real handlers.
 */
import { reserveIds } from '../../shared/db/counters';
import type { StorageItem, TaskItem } from '../../shared/db/items';
import { putTasks } from '../../shared/db/repo-tasks';
import { updateStorageConfig } from '../../shared/db/repo-storages';
import { processApp } from '../../shared/process-app';
import { startHttpServer, type LocalHttpServer } from '../../local/http-server';
import type { FunctionName } from '../../functions/manifest';
import type { LambdaHandler } from '../../local/lambda-functions';

/** Stores an import storage directly, secrets sealed as the API would (the sync suites' helper). */
export { newStorage as addStorage } from './sync-helpers';

/** Changes non-secret fields of a storage (e.g. flips `presign`), secrets kept. */
export async function patchStorage(s: StorageItem, fields: Record<string, unknown>): Promise<void> {
  const updated = await updateStorageConfig(processApp().db, s.id, {
    fields: { ...s.fields, ...fields },
    secrets: s.secrets,
    secretFields: (s as StorageItem & { secret_fields?: string[] }).secret_fields,
  });
  if (!updated) throw new Error(`storage ${s.id} vanished`);
  Object.assign(s, updated);
}

/** Writes tasks with the given data into a project; returns their ids in order. */
export async function addTasks(orgId: string, projectId: number, datas: Record<string, unknown>[], source?: { storageId: number }): Promise<number[]> {
  const app = processApp();
  const first = await reserveIds(app.db, 'task', datas.length);
  const now = new Date().toISOString();
  const tasks: TaskItem[] = datas.map((data, i) => ({
    kind: 'task',
    id: first + i,
    projectId,
    orgId,
    data,
    is_labeled: false,
    total_annotations: 0,
    cancelled_annotations: 0,
    total_predictions: 0,
    ...(source ? { source: { storageId: source.storageId, key: `k${i}`, row_index: null } } : {}),
    created_at: now,
    updated_at: now,
  }));
  await putTasks(app.db, tasks);
  return tasks.map((t) => t.id);
}

/** The local runtime's HTTP server in front of the given handlers. */
export async function startServer(handlers: Partial<Record<FunctionName, unknown>>): Promise<LocalHttpServer> {
  return startHttpServer({
    port: 0,
    host: '127.0.0.1',
    region: 'us-east-1',
    log: () => undefined,
    resolveHandler: async (fn) => {
      const h = handlers[fn];
      if (!h) throw new Error(`no handler for ${fn} in this test`);
      return h as LambdaHandler;
    },
  });
}


/** Parts of a resolve URL. */
export function parseResolveUrl(url: string): { path: string; fileuri: string; token: string } {
  const u = new URL(url, 'http://x');
  return { path: u.pathname, fileuri: u.searchParams.get('fileuri') ?? '', token: u.searchParams.get('token') ?? '' };
}
