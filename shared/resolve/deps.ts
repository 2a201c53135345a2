/**
 * Wiring of the resolve module to the rest of the service: storages of a project (one indexed
 * query), a cache of providers per stored storage, the host-file storage paths of an organization.
 */
import type { AppContext } from '../context';
import type { StorageItem } from '../db/items';
import { listProjects } from '../db/repo-projects';
import { listProjectStorages } from '../db/repo-storages';
import { BACKEND_LIST } from '../storage/backends';
import { hostFileTypes } from '../storage/backends/capabilities';
import type { BackendDefinition } from '../storage/backends/definition';
import type { StorageProvider } from '../storage/types';

/** A project's source storages: one Query on gsi1. */
export function listImportStorages(app: Pick<AppContext, 'db'>, projectId: number): Promise<StorageItem[]> {
  return listProjectStorages(app.db, projectId, 'import');
}

const PROVIDER_CACHE_MAX = 500;

/**
 * A provider cache per (storage id, updated_at) over `load` (decrypt the config, then the
 * registry, which caches clients, presigners and assumed-role credentials per config): a warm
 * process decrypts the secrets (a KMS call in AWS) once per storage version. An edited storage
 * gets a new `updated_at`, hence a fresh provider. A failed load is not cached.
 */
export function createStorageProviderCache(load: (storage: StorageItem) => Promise<StorageProvider>): (storage: StorageItem) => Promise<StorageProvider> {
  const providers = new Map<string, Promise<StorageProvider>>();
  return (storage) => {
    const k = `${storage.id}:${storage.updated_at}`;
    let p = providers.get(k);
    if (!p) {
      p = load(storage);
      p.catch(() => providers.delete(k));
      if (providers.size >= PROVIDER_CACHE_MAX) providers.clear();
      providers.set(k, p);
    }
    return p;
  };
}

const PROJECT_PAGE = 100;
const CONCURRENCY = 8;

/**
 * `path` of every import storage of the organization's projects whose type `servesHostFiles`
 * (of `defs`, default the registered ones): the org's projects through gsi1
 * (`ORG#<org>#PROJECTS`), then per project and such type one gsi1 query restricted to
 * `import#<type>#` by sort-key prefix. Indexed queries only, never a scan.
 */
export async function localFilesStoragePaths(
  app: Pick<AppContext, 'db'>,
  orgId: string,
  defs: readonly BackendDefinition[] = BACKEND_LIST,
): Promise<string[]> {
  const types = hostFileTypes(defs);
  const paths: string[] = [];
  let afterId: number | undefined;
  for (;;) {
    const page = await listProjects(app.db, orgId, { afterId, limit: PROJECT_PAGE });
    const ids = page.items.map((p) => p.id);
    for (let i = 0; i < ids.length; i += CONCURRENCY) {
      const lists = await Promise.all(ids.slice(i, i + CONCURRENCY).flatMap((id) => types.map((t) => listProjectStorages(app.db, id, 'import', t))));
      for (const list of lists) for (const s of list) if (typeof s.fields?.path === 'string' && s.fields.path) paths.push(s.fields.path);
    }
    if (!page.hasMore || !ids.length) return paths;
    afterId = ids[ids.length - 1];
  }
}
