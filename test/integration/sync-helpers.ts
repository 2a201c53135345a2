/**
 * Harness of the sync suites: the real synthesized state machine on the local ASL runner with the
 * real sync handlers (manifest modules), behind the sync starter of the installed app, against the
 * emulators of the global setup. Projects and storages are stored through the repositories;
 * syncs are requested through the storages HTTP handler.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { createApp, withParts } from '../../shared/app';
import { installApp, processApp } from '../../shared/process-app';
import { nextId } from '../../shared/db/counters';
import type { StorageItem, TaskItem } from '../../shared/db/items';
import { putProject } from '../../shared/db/repo-projects';
import { getStorage, putStorage } from '../../shared/db/repo-storages';
import { listProjectTasks } from '../../shared/db/repo-tasks';
import { SECRET_FIELDS } from '../../shared/api/storage-schemas';
import { createOrgWithToken } from '../../shared/api/tokens';
import type { StorageConfig } from '../../shared/storage/types';
import { LocalStateMachine } from '../../local/asl-runner';
import { synthesizeStateMachine } from '../../local/state-machine-definition';
import { LocalSyncStarter } from '../../local/sync-starter';
import { importHandler, type LambdaHandler } from '../../local/lambda-functions';
import type { FunctionName } from '../../functions/manifest';

let definitionOnce: ReturnType<typeof synthesizeStateMachine> | undefined;
/** The synthesized definition, once per test file (synthesis costs seconds). */
const definitionOf = async () => structuredClone((await (definitionOnce ??= synthesizeStateMachine('us-east-1'))).definition);

export interface SyncHarness {
  starter: LocalSyncStarter;
  machine: LocalStateMachine;
  orgId: string;
  token: string;
  /** Root directory for local-files storages (LOCAL_FILES_DOCUMENT_ROOT). */
  root: string;
}

/**
 * Points the process at the test table with small chunks (many chunks from few objects), builds
 * the state machine from the CDK app and installs the local starter.
 */
export async function startSyncHarness(opts: { chunkSize?: number; concurrency?: number; maxTaskFileBytes?: number; listPartitions?: number } = {}): Promise<SyncHarness> {
  const root = mkdtempSync(join(tmpdir(), 'labelsync-sync-'));
  process.env.LABELSYNC_DATA_DIR ??= mkdtempSync(join(tmpdir(), 'labelsync-sync-data-'));
  process.env.LABELSYNC_SYNC_CHUNK_SIZE = String(opts.chunkSize ?? 100);
  if (opts.maxTaskFileBytes) process.env.LABELSYNC_MAX_TASK_FILE_BYTES = String(opts.maxTaskFileBytes);
  if (opts.listPartitions) process.env.LABELSYNC_LIST_PARTITIONS = String(opts.listPartitions);
  process.env.LABELSYNC_LOCAL_FILES_STORAGE_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  const app = createApp(process.env);
  const { orgId, token } = await createOrgWithToken(app.db, `sync-${Date.now()}`);
  const definition = await definitionOf();
  if (opts.concurrency) {
    (definition as unknown as { States: { Loop: { Branches: { States: { Write: { MaxConcurrency: number } } }[] } } }).States.Loop.Branches[1].States.Write.MaxConcurrency =
      opts.concurrency;
  }
  const machine = new LocalStateMachine({ definition, region: 'us-east-1', log: process.env.SYNC_TEST_LOG ? (m) => console.error(m) : () => {}, retryIntervalOverrides: { WriteChunk: 10, ListStep: 10, Start: 10, Finalize: 10 } });
  const starter = new LocalSyncStarter({ machine: async () => machine, maxConcurrent: 4, log: () => {} });
  installApp(withParts(app, { syncStarter: starter }));
  return { starter, machine, orgId, token, root };
}

/** A state machine + starter whose handlers can be wrapped per function (fault injection); installed as the app's starter until `restore`. */
export async function customRunner(
  wrap: Partial<Record<FunctionName, (real: LambdaHandler) => LambdaHandler>>,
  concurrency?: number,
): Promise<{ starter: LocalSyncStarter; restore: (h: SyncHarness) => void }> {
  const definition = await definitionOf();
  if (concurrency) {
    (definition as unknown as { States: { Loop: { Branches: { States: { Write: { MaxConcurrency: number } } }[] } } }).States.Loop.Branches[1].States.Write.MaxConcurrency =
      concurrency;
  }
  const machine = new LocalStateMachine({
    definition,
    region: 'us-east-1',
    log: process.env.SYNC_TEST_LOG ? (m) => console.error(m) : () => {},
    retryIntervalOverrides: { WriteChunk: 10, ListStep: 10, Start: 10, Finalize: 10 },
    resolveHandler: async (fn) => {
      const real = await importHandler(fn);
      const w = wrap[fn];
      return w ? w(real) : real;
    },
  });
  const starter = new LocalSyncStarter({ machine: async () => machine, maxConcurrent: 4, log: () => {} });
  const previous = processApp();
  installApp(withParts(previous, { syncStarter: starter }));
  return { starter, restore: (h) => installApp(withParts(previous, { syncStarter: h.starter })) };
}

export async function stopSyncHarness(h: SyncHarness | undefined): Promise<void> {
  if (!h) return;
  await h.starter.stop();
  installApp(undefined);
}

/** A project whose label config has the given data keys. */
export async function newProject(orgId: string, dataKeys: string[] = ['image']): Promise<number> {
  const db = processApp().db;
  const id = await nextId(db, 'project');
  const now = new Date().toISOString();
  await putProject(db, {
    kind: 'project',
    id,
    orgId,
    title: `p${id}`,
    description: '',
    label_config: `<View>${dataKeys.map((k) => `<Image name="i_${k}" value="$${k}"/>`).join('')}</View>`,
    data_keys: dataKeys,
    created_at: now,
    updated_at: now,
  });
  return id;
}

/** Stores a storage directly (secret fields encrypted, as the API would). */
export async function newStorage(orgId: string, projectId: number, config: StorageConfig, extra: Record<string, unknown> = {}): Promise<StorageItem> {
  const app = processApp();
  const id = await nextId(app.db, 'storage');
  const secretNames = new Set<string>(SECRET_FIELDS[config.type] ?? []);
  const fields: Record<string, unknown> = { title: `s${id}`, ...extra };
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'type' || k === 'role') continue;
    (secretNames.has(k) ? secrets : fields)[k] = v;
  }
  const now = new Date().toISOString();
  const item: StorageItem = {
    kind: 'storage',
    id,
    projectId,
    orgId,
    type: config.type,
    role: config.role,
    fields,
    ...(Object.keys(secrets).length ? { secrets: await app.secretBox.encrypt(JSON.stringify(secrets)) } : {}),
    status: 'initialized',
    last_sync: null,
    last_sync_count: null,
    last_sync_job: null,
    traceback: null,
    meta: {},
    synchronizable: true,
    created_at: now,
    updated_at: now,
  };
  await putStorage(app.db, item);
  return item;
}

/** Writes objects through the provider of `config` (works for every backend). */
export async function seed(config: StorageConfig, objects: Record<string, string>, concurrency = 16): Promise<void> {
  const p = await processApp().getProvider(config, { noCache: true });
  const entries = Object.entries(objects);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, entries.length) }, async () => {
      while (next < entries.length) {
        const [k, v] = entries[next++];
        await p.write(k, v, { contentType: 'application/json' });
      }
    }),
  );
  await p.close();
}

export async function deleteObjects(config: StorageConfig, keys: string[]): Promise<void> {
  const p = await processApp().getProvider(config, { noCache: true });
  for (const k of keys) await p.delete(k);
  await p.close();
}

export async function storageOf(id: number): Promise<StorageItem> {
  const s = await getStorage(processApp().db, id, { includeDeleted: true, consistent: true });
  if (!s) throw new Error(`storage ${id} not found`);
  return s;
}

/** Every task of a project (ascending ids). */
export async function tasksOf(projectId: number): Promise<TaskItem[]> {
  const out: TaskItem[] = [];
  let afterId: number | undefined;
  for (;;) {
    const page = await listProjectTasks(processApp().db, projectId, { afterId, limit: 1000 });
    const items = (page as { items: TaskItem[] }).items;
    out.push(...items);
    if (!(page as { hasMore?: boolean }).hasMore || !items.length) break;
    afterId = items[items.length - 1].id;
  }
  return out;
}

/** Emulator endpoints of the global setup. */
export const emulators = () => inject('emulators');
