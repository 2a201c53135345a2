/**
 * Storage use cases (import "source" and export "target" storages of every type): list, create,
 * validate, get, patch/put, delete, types, files preview; plus `loadStorageConfig`, the one way
 * other modules (sync, resolve, export) get a decrypted `StorageConfig`.
 *
 * Secrets: the type's secret fields are split off, JSON-encoded and envelope-encrypted into
 * `StorageItem.secrets`; `secret_fields` lists which are set. No response, error or log line
 * carries a secret: responses are built field by field from the non-secret list.
 * PATCH/validate semantics: an omitted secret keeps the stored value, `""`/null clears it, and
 * stored secrets are bound to their connection: a body that changes a connection field must
 * re-send (or clear) every stored secret (`boundSecrets`).
 * Read-only fields (status, last_sync*, traceback, meta, type, id, timestamps) are ignored in
 * bodies; `project` must not change (400).
 */
import type { AppContext } from '../context';
import type { SecretBox } from '../crypto/secret-box';
import { NotFoundError, StorageError, ValidationError } from '../errors';
import { nextId } from '../db/counters';
import type { StorageItem } from '../db/items';
import { getProject } from '../db/repo-projects';
import { withOrgExternalId } from './organizations';
import { getStorage, listProjectStorages, putStorage, tombstoneStorage, updateStorageConfig } from '../db/repo-storages';
import type { Principal } from '../http/auth';
import { getLogger } from '../logging';
import { backend } from '../storage/backends';
import { eventSyncRefusal, previewKey, typeEnabled } from '../storage/backends/capabilities';
import { maintainEventRoute } from '../sync/object-events/routes';
import { connectionFieldsOf } from '../storage/backends/derive';
import { parseConfigErrors } from '../storage/registry';
import { STORAGE_TYPES, type StorageConfig, type StorageRole, type StorageType } from '../storage/types';
import { assertDirAvailable, claimDir, hostDirOf } from './local-dirs';
import { SECRET_FIELDS, storageBodySchema, storageDefaults, storageFields, TYPE_TITLES } from './storage-schemas';
import { parseId, parseWith } from './validation';

/**
 * The storage types available in this deployment, in the definitions' title order (Label
 * Studio's list first); a type with an `enabledBy` switch only while it is on.
 */
export function storageTypes(app: AppContext): { name: StorageType; title: string }[] {
  return TYPE_TITLES.filter((t) => typeEnabled(backend(t.name), app.env));
}

/**
 * A type slug from a path segment.
 * @throws NotFoundError for unknown or disabled types
 */
export function parseStorageType(app: AppContext, slug: string | undefined): StorageType {
  const t = STORAGE_TYPES.find((x) => x === slug);
  if (!t || !typeEnabled(backend(t), app.env)) throw new NotFoundError('Not found.');
  return t;
}

/** The API shape of a storage: non-secret fields (null when unset), `has_<secret>` flags, sync bookkeeping. */
export function serializeStorage(s: StorageItem): Record<string, unknown> {
  const secrets = new Set<string>(SECRET_FIELDS[s.type]);
  const set = new Set(s.secret_fields ?? []);
  const out: Record<string, unknown> = { id: s.id, type: s.type, project: s.projectId };
  for (const f of storageFields(s.type, s.role)) {
    if (secrets.has(f)) out[`has_${f}`] = set.has(f);
    else out[f] = f === 'synchronizable' ? s.synchronizable : (s.fields[f] ?? null);
  }
  Object.assign(out, {
    status: s.status,
    last_sync: s.last_sync,
    last_sync_count: s.last_sync_count,
    last_sync_job: s.last_sync_job,
    traceback: s.traceback,
    meta: s.meta ?? {},
    created_at: s.created_at,
    updated_at: s.updated_at,
  });
  return out;
}

/**
 * A decrypted configuration of a stored storage, for providers (sync, resolve, export).
 * @throws Error when the secrets cannot be decrypted (wrong key): a server fault, not a client one
 */
export async function loadStorageConfig(storage: StorageItem, box: SecretBox): Promise<StorageConfig> {
  const secrets = storage.secrets ? (JSON.parse(await box.decrypt(storage.secrets)) as Record<string, unknown>) : {};
  return { ...storage.fields, ...secrets, type: storage.type, role: storage.role, orgId: storage.orgId } as StorageConfig;
}

/**
 * The saved form of a `path` field (local files and Redis): trimmed, `\` as `/`, no trailing
 * separators, as Label Studio saves it. Not resolved: `..` and symlinks are the local provider's
 * checks at use, so the value returned is the value sent, tidied.
 */
function savedPathForm(p: unknown): unknown {
  if (typeof p !== 'string') return p;
  let s = p.trim().replace(/\\/g, '/');
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/** Splits validated body values into non-secret fields and secret changes (undefined = keep, null = clear). */
function splitBody(type: StorageType, body: Record<string, unknown>): { fields: Record<string, unknown>; secrets: Record<string, string | null> } {
  const secretNames = new Set<string>(SECRET_FIELDS[type]);
  const fields: Record<string, unknown> = {};
  const secrets: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'project' || k === 'id' || v === undefined) continue;
    if (secretNames.has(k)) secrets[k] = v === null || v === '' ? null : String(v);
    else fields[k] = k === 'path' ? savedPathForm(v) : v;
  }
  return { fields, secrets };
}

async function storedSecrets(app: AppContext, s: StorageItem): Promise<Record<string, string>> {
  return s.secrets ? (JSON.parse(await app.secretBox.decrypt(s.secrets)) as Record<string, string>) : {};
}

/** One form per meaning: blank (absent, null, '') values are one, and so are `6379` and `"6379"`. */
function comparable(v: unknown): string {
  if (v === undefined || v === null || v === '') return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Connection fields whose value in `body` differs from the stored storage's (defaults included). */
function changedConnectionFields(existing: StorageItem, stored: Record<string, string>, body: Record<string, unknown>): string[] {
  const current: Record<string, unknown> = { ...storageDefaults(existing.type, existing.role), ...existing.fields, ...stored };
  return connectionFieldsOf(backend(existing.type)!).filter((f) => f in body && comparable(body[f]) !== comparable(current[f]));
}

/**
 * The stored secrets with a body's secret changes applied. A secret is only ever used with the
 * connection it was saved for: when the body changes a connection field (endpoint, host, port,
 * bucket, account, role...), every stored secret it does not re-send or clear would otherwise be
 * sent wherever the new value points, so the body is refused instead.
 * @throws ValidationError naming each stored secret the body leaves out
 */
async function boundSecrets(app: AppContext, existing: StorageItem, given: Record<string, unknown>, changes: Record<string, string | null>): Promise<Record<string, string>> {
  const stored = await storedSecrets(app, existing);
  const changed = changedConnectionFields(existing, stored, { ...given, ...changes });
  const kept = Object.keys(stored).filter((k) => !(k in changes));
  if (changed.length && kept.length) {
    const message = `Send this secret again: ${changed.join(', ')} changed, and a stored secret is used only with the connection it was saved for.`;
    throw new ValidationError(Object.fromEntries(kept.map((k) => [k, [message]])));
  }
  return mergeSecrets(stored, changes);
}

function mergeSecrets(stored: Record<string, string>, changes: Record<string, string | null>): Record<string, string> {
  const out = { ...stored };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * Checks the shape (per field, 400), then the connection through the provider registry
 * (StorageError → 400 with its secret-free message) and, for a host directory, that no other
 * organization owns it. The provider is built uncached and closed.
 * @returns the canonical host directory of a local-files storage (to be claimed), else undefined
 */
async function checkConfig(app: AppContext, config: StorageConfig & { orgId: string }, storageId?: number): Promise<string | undefined> {
  const errors = parseConfigErrors(config);
  if (Object.keys(errors).length) throw new ValidationError(errors);
  const events = config.role === 'import' && config.event_sync === true;
  const refusal = events ? eventSyncRefusal(backend(config.type), app.env) : undefined;
  if (refusal) throw ValidationError.field('event_sync', refusal);
  const provider = await app.getProvider(config, { noCache: true, storageId });
  try {
    const hostDir = hostDirOf(config.type, provider);
    if (hostDir) await assertDirAvailable(app.db, hostDir, config.orgId);
    await provider.validate(config.role);
    const problem = events ? await provider.eventSyncProblem?.() : undefined;
    if (problem) throw ValidationError.field('event_sync', problem);
    return hostDir;
  } finally {
    await provider.close().catch(() => undefined);
  }
}

async function ownedProjectForStorage(app: AppContext, principal: Principal, projectId: number): Promise<void> {
  const p = await getProject(app.db, projectId);
  if (!p || p.orgId !== principal.orgId) throw ValidationError.field('project', `Invalid pk "${projectId}" - object does not exist.`);
}

/**
 * The caller's storage of this type and role.
 * @throws NotFoundError when missing, deleted, of another type/role or another organization
 */
export async function getOwnedStorage(app: AppContext, principal: Principal, role: StorageRole, type: StorageType, id: number | undefined): Promise<StorageItem> {
  const s = id === undefined ? undefined : await getStorage(app.db, id);
  if (!s || s.orgId !== principal.orgId || s.role !== role || s.type !== type) throw new NotFoundError('Storage not found.');
  return s;
}

/**
 * Storages of one project (optionally one type).
 * @throws ValidationError without `project` (LS: `query parameter "project" is required`), NotFoundError for a foreign/unknown project
 */
export async function listStorages(
  app: AppContext,
  principal: Principal,
  role: StorageRole,
  type: StorageType | undefined,
  query: Record<string, string>,
): Promise<Record<string, unknown>[]> {
  if (query.project === undefined || query.project === '') throw ValidationError.field('project', 'query parameter "project" is required');
  const projectId = parseId(query.project, 'project');
  const p = await getProject(app.db, projectId);
  if (!p || p.orgId !== principal.orgId) throw new NotFoundError('Project not found.');
  const items = await listProjectStorages(app.db, projectId, role, type);
  return items.filter((s) => typeEnabled(backend(s.type), app.env)).map(serializeStorage);
}

/**
 * Creates a storage: body validation, project ownership (400 if not), shape and connection
 * checks, secrets encrypted. For export storages, `app.onExportStorageCreated` runs afterwards
 * (Label Studio's immediate export sync); its failure is logged and does not fail the create.
 */
export async function createStorage(app: AppContext, principal: Principal, role: StorageRole, type: StorageType, body: unknown): Promise<StorageItem> {
  const input = parseWith(storageBodySchema(type, role, 'create'), body ?? {}) as Record<string, unknown>;
  await ownedProjectForStorage(app, principal, input.project as number);
  const { fields: given, secrets: changes } = splitBody(type, input);
  const fields = { ...storageDefaults(type, role), ...given };
  const secrets = mergeSecrets({}, changes);
  const hostDir = await checkConfig(app, { ...fields, ...secrets, type, role, orgId: principal.orgId } as StorageConfig & { orgId: string });
  if (hostDir) await claimDir(app.db, hostDir, principal.orgId);
  const now = new Date().toISOString();
  const { synchronizable, ...rest } = fields;
  const item: StorageItem = {
    kind: 'storage',
    id: await nextId(app.db, 'storage'),
    projectId: input.project as number,
    orgId: principal.orgId,
    type,
    role,
    fields: await withOrgExternalId(app.db, principal.orgId, type, rest),
    ...(Object.keys(secrets).length ? { secrets: await app.secretBox.encrypt(JSON.stringify(secrets)), secret_fields: Object.keys(secrets) } : {}),
    status: 'initialized',
    last_sync: null,
    last_sync_count: null,
    last_sync_job: null,
    traceback: null,
    meta: {},
    synchronizable: synchronizable !== false && synchronizable !== null,
    created_at: now,
    updated_at: now,
  };
  await putStorage(app.db, item);
  await maintainEventRoute(app.db, item);
  if (role === 'export' && app.onExportStorageCreated) {
    try {
      await app.onExportStorageCreated(item);
    } catch (e) {
      getLogger('api').error('export sync after storage creation failed to start', { storageId: item.id, error: e as Error });
    }
  }
  return item;
}

/**
 * PATCH (and PUT, which additionally requires `project`): merges the body over the stored
 * storage, re-checks shape and connection with the merged config (as LS does for GCS/Azure/local),
 * then saves. Omitted secrets are kept (unless the body changes a connection field: 400),
 * `""`/null clears them.
 */
export async function updateStorage(
  app: AppContext,
  principal: Principal,
  role: StorageRole,
  type: StorageType,
  id: number | undefined,
  body: unknown,
  mode: 'patch' | 'put',
): Promise<StorageItem> {
  const existing = await getOwnedStorage(app, principal, role, type, id);
  const input = parseWith(storageBodySchema(type, role, mode === 'put' ? 'create' : 'patch'), body ?? {}) as Record<string, unknown>;
  if (input.project !== undefined && input.project !== existing.projectId) {
    throw ValidationError.field('project', 'A storage cannot be moved to another project.');
  }
  const { fields: given, secrets: changes } = splitBody(type, input);
  const { synchronizable, ...fieldChanges } = given;
  const fields = { ...existing.fields, ...fieldChanges };
  const secrets = await boundSecrets(app, existing, given, changes);
  const hostDir = await checkConfig(app, { ...fields, ...secrets, type, role, orgId: principal.orgId } as StorageConfig & { orgId: string }, existing.id);
  if (hostDir) await claimDir(app.db, hostDir, principal.orgId);
  const updated = await updateStorageConfig(app.db, existing.id, {
    fields: await withOrgExternalId(app.db, principal.orgId, type, fields),
    secrets: Object.keys(secrets).length ? await app.secretBox.encrypt(JSON.stringify(secrets)) : undefined,
    secretFields: Object.keys(secrets),
    synchronizable: synchronizable === undefined ? undefined : synchronizable !== false && synchronizable !== null,
  });
  if (!updated) throw new NotFoundError('Storage not found.');
  await maintainEventRoute(app.db, updated, existing);
  return updated;
}

/**
 * Validates a configuration without saving. With `id`, the stored storage (same type/role,
 * caller's) is merged with the body: omitted secrets come from the stored row (unless the body
 * changes a connection field: 400), `""` clears them.
 * @throws ValidationError / StorageError (400), NotFoundError for an unknown id
 */
export async function validateStorage(app: AppContext, principal: Principal, role: StorageRole, type: StorageType, body: unknown): Promise<void> {
  const input = parseWith(storageBodySchema(type, role, 'validate'), body ?? {}) as Record<string, unknown>;
  const { fields: given, secrets: changes } = splitBody(type, input);
  if (input.id !== undefined) {
    const existing = await getOwnedStorage(app, principal, role, type, input.id as number);
    if (input.project !== undefined && input.project !== existing.projectId) {
      throw ValidationError.field('project', 'A storage cannot be moved to another project.');
    }
    const secrets = await boundSecrets(app, existing, given, changes);
    await checkConfig(app, { ...existing.fields, ...given, ...secrets, type, role, orgId: principal.orgId } as StorageConfig & { orgId: string }, existing.id);
    return;
  }
  if (input.project !== undefined) await ownedProjectForStorage(app, principal, input.project as number);
  await checkConfig(app, { ...storageDefaults(type, role), ...given, ...mergeSecrets({}, changes), type, role, orgId: principal.orgId } as StorageConfig & { orgId: string });
}

/** Deletes (tombstones) the caller's storage; tasks stay; a running sync sees `cancelled`. */
export async function deleteStorage(app: AppContext, principal: Principal, role: StorageRole, type: StorageType, id: number | undefined): Promise<void> {
  const s = await getOwnedStorage(app, principal, role, type, id);
  if (!(await tombstoneStorage(app.db, s.id))) throw new NotFoundError('Storage not found.');
  await maintainEventRoute(app.db, { ...s, cancelled: true }, s);
}

/** Default and maximum of the files preview. */
export const FILES_PREVIEW_LIMIT = 100;
const FILES_PREVIEW_MAX = 10_000;
/** Label Studio stops after 30 s; we stop earlier to stay inside API Gateway's 29 s. */
const FILES_PREVIEW_TIMEOUT_MS = 20_000;

/**
 * `POST .../files`: the first `limit` keys the sync would see (same listing rules), as
 * `{files: [{key, last_modified, size}]}`; a `{key: null, ...}` marker when the limit was reached,
 * a timeout marker when listing took too long. Listing failures → 400 `Failed to list storage files`.
 */
export async function previewStorageFiles(
  app: AppContext,
  principal: Principal,
  role: StorageRole,
  type: StorageType,
  body: unknown,
): Promise<{ files: { key: string | null; last_modified: string | null; size: number | null }[] }> {
  const raw = (body ?? {}) as Record<string, unknown>;
  const limit = raw.limit === undefined ? FILES_PREVIEW_LIMIT : Number(raw.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > FILES_PREVIEW_MAX) throw ValidationError.field('limit', `limit must be an integer between 1 and ${FILES_PREVIEW_MAX}`);
  const { limit: _l, ...rest } = raw;
  const input = parseWith(storageBodySchema(type, role, 'validate'), rest) as Record<string, unknown>;
  const { fields: given, secrets: changes } = splitBody(type, input);
  let config: StorageConfig;
  let storageId: number | undefined;
  if (input.id !== undefined) {
    const existing = await getOwnedStorage(app, principal, role, type, input.id as number);
    storageId = existing.id;
    config = { ...existing.fields, ...given, ...(await boundSecrets(app, existing, given, changes)), type, role, orgId: principal.orgId } as StorageConfig & { orgId: string };
  } else {
    if (input.project !== undefined) await ownedProjectForStorage(app, principal, input.project as number);
    config = { ...storageDefaults(type, role), ...given, ...mergeSecrets({}, changes), type, role, orgId: principal.orgId } as StorageConfig & { orgId: string };
  }
  const errors = parseConfigErrors(config);
  if (Object.keys(errors).length) throw new ValidationError(errors);
  const files: { key: string | null; last_modified: string | null; size: number | null }[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), FILES_PREVIEW_TIMEOUT_MS);
  const provider = await app.getProvider(config, { noCache: true, storageId });
  try {
    const hostDir = hostDirOf(type, provider);
    if (hostDir) await assertDirAvailable(app.db, hostDir, principal.orgId);
    outer: for await (const page of provider.list({ pageSize: Math.min(1000, limit + 1), signal: ac.signal })) {
      for (const e of page.entries) {
        if (files.length >= limit) {
          files.push({ key: null, last_modified: null, size: null });
          break outer;
        }
        files.push({
          key: previewKey(backend(type), config, e.key),
          last_modified: e.lastModified ? e.lastModified.toISOString() : null,
          size: e.size ?? null,
        });
      }
      if (ac.signal.aborted) break;
    }
    if (ac.signal.aborted) files.push({ key: '... storage scan timeout reached ...', last_modified: null, size: null });
  } catch (e) {
    if (ac.signal.aborted) files.push({ key: '... storage scan timeout reached ...', last_modified: null, size: null });
    else if (e instanceof StorageError) throw new ValidationError({ non_field_errors: ['Failed to list storage files', e.message] });
    else throw e;
  } finally {
    clearTimeout(timer);
    await provider.close().catch(() => undefined);
  }
  return { files };
}

