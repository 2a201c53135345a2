/**
 * Cloud Storage settings of a project, like Label Studio's: Source storages and Target storages,
 * each with Sync / Edit / Delete, Add Source Storage / Add Target Storage, and live progress of
 * running syncs (the lists are polled while a sync is queued or running).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { Dialog, ErrorBanner, Loading, StatusBadge, when } from './components';
import { StorageDialog } from './storage-form';
import { storageBase, storageTypes, type Role, type StorageType } from './storage-schema';
import { isRunning, SyncProgress } from './sync-progress';
import type { Project, Storage } from './types';

const POLL_MS = 1500;
// Idle refresh: export writes from annotations and syncs started elsewhere show up without a reload.
const IDLE_POLL_MS = 10_000;

type Lists = { import: Storage[]; export: Storage[] };

export function StoragePage({ project }: { project: Project }) {
  const [lists, setLists] = useState<Lists | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [dialog, setDialog] = useState<{ role: Role; storage?: Storage } | null>(null);
  const [deleting, setDeleting] = useState<{ role: Role; storage: Storage } | null>(null);
  const [externalId, setExternalId] = useState<string | undefined>();
  const [typeTitles, setTypeTitles] = useState<Record<string, string>>({});
  const alive = useRef(true);

  const load = async () => {
    try {
      const [imp, exp] = await Promise.all([
        api<Storage[]>('GET', `/api/storages?project=${project.id}`),
        api<Storage[]>('GET', `/api/storages/export?project=${project.id}`),
      ]);
      if (alive.current) {
        setLists({ import: imp, export: exp });
        setError(null);
      }
    } catch (e) {
      if (alive.current) setError(e);
    }
  };
  useEffect(() => {
    alive.current = true;
    void load();
    api<{ external_id?: string }>('GET', '/api/organizations/current').then((o) => setExternalId(o.external_id), () => undefined);
    Promise.all([storageTypes('import'), storageTypes('export')]).then(([a, b]) => {
      const t: Record<string, string> = {};
      [...a, ...b].forEach((x: StorageType) => (t[x.name] = x.title));
      setTypeTitles(t);
    }, () => undefined);
    return () => {
      alive.current = false;
    };
  }, [project.id]);
  const running = lists ? [...lists.import, ...lists.export].some(isRunning) : false;
  useEffect(() => {
    const t = setInterval(() => void load(), running ? POLL_MS : IDLE_POLL_MS);
    return () => clearInterval(t);
  }, [running]);

  const act = async (what: () => Promise<unknown>) => {
    setError(null);
    try {
      await what();
    } catch (e) {
      setError(e);
    }
    await load();
  };
  const sync = (role: Role, s: Storage) => act(() => api('POST', `${storageBase(role, s.type)}/${s.id}/sync`));
  const remove = (role: Role, s: Storage) => act(async () => {
    setDeleting(null);
    await api('DELETE', `${storageBase(role, s.type)}/${s.id}`);
  });

  return (
    <>
      <h2 class="sr-only">Cloud Storage</h2>
      <ErrorBanner error={error} />
      {!lists && !error && <Loading what="storages" />}
      {lists && (['import', 'export'] as Role[]).map((role) => (
        <StorageList key={role} role={role} storages={lists[role]} typeTitles={typeTitles}
          onAdd={() => setDialog({ role })} onEdit={(s) => setDialog({ role, storage: s })}
          onSync={(s) => sync(role, s)} onDelete={(s) => setDeleting({ role, storage: s })} />
      ))}
      {dialog && (
        <StorageDialog role={dialog.role} project={project} storage={dialog.storage} externalId={externalId}
          onClose={() => setDialog(null)} onSaved={() => { setDialog(null); void load(); }} />
      )}
      {deleting && (
        <Dialog title="Delete storage" onClose={() => setDeleting(null)}>
          <p>
            Delete the {deleting.role === 'export' ? 'target' : 'source'} storage <strong>{deleting.storage.title || `${deleting.storage.type} ${deleting.storage.id}`}</strong>?
            {deleting.role === 'import' ? ' Its tasks are kept; a running sync stops.' : ' Objects already exported are kept.'}
          </p>
          <div class="actions">
            <button type="button" class="danger" onClick={() => remove(deleting.role, deleting.storage)}>Delete</button>
            <button type="button" autoFocus onClick={() => setDeleting(null)}>Cancel</button>
          </div>
        </Dialog>
      )}
    </>
  );
}

/** Where a storage points: bucket/container/host and prefix/path. */
export function location(s: Storage): string {
  const base = (s.bucket ?? s.container ?? (s.host ? `${s.host}:${s.port ?? 6379}` : '')) as string;
  const rest = (s.prefix ?? s.path ?? '') as string;
  if (s.type === 'localfiles') return String(s.path ?? '');
  return [base, rest].filter(Boolean).join('/');
}

function StorageList(props: {
  role: Role; storages: Storage[]; typeTitles: Record<string, string>;
  onAdd: () => void; onEdit: (s: Storage) => void; onSync: (s: Storage) => void; onDelete: (s: Storage) => void;
}) {
  const heading = props.role === 'export' ? 'Target storages' : 'Source storages';
  const headingId = `${props.role}-storages`;
  return (
    <section aria-labelledby={headingId}>
      <div class="section-head">
        <h2 id={headingId}>{heading}</h2>
        <button type="button" class="primary" onClick={props.onAdd}>{props.role === 'export' ? 'Add Target Storage' : 'Add Source Storage'}</button>
      </div>
      {props.storages.length === 0 ? (
        <p class="muted">{props.role === 'export' ? 'No target storage: annotations stay in labelsync.' : 'No source storage yet.'}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Title</th><th scope="col">Type</th><th scope="col">Location</th><th scope="col">Status</th>
              <th scope="col">Last sync</th><th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.storages.map((s) => <StorageRow key={`${s.type}-${s.id}`} {...props} storage={s} />)}
          </tbody>
        </table>
      )}
    </section>
  );
}

function StorageRow(props: { role: Role; storage: Storage; typeTitles: Record<string, string>; onEdit: (s: Storage) => void; onSync: (s: Storage) => void; onDelete: (s: Storage) => void }) {
  const s = props.storage;
  const count = s.last_sync_count ?? null;
  return (
    <>
      <tr>
        <th scope="row">{s.title || `${s.type} ${s.id}`}</th>
        <td>{props.typeTitles[s.type] ?? s.type}</td>
        <td><code>{location(s)}</code></td>
        <td><StatusBadge status={s.status} /></td>
        <td>
          {when(s.last_sync)}
          {count !== null && <><br /><span class="muted">{count} {props.role === 'export' ? 'annotations' : 'tasks'}</span></>}
        </td>
        <td>
          <div class="actions">
            <button type="button" onClick={() => props.onSync(s)} disabled={isRunning(s) || s.synchronizable === false}>Sync</button>
            <button type="button" onClick={() => props.onEdit(s)}>Edit</button>
            <button type="button" class="danger" onClick={() => props.onDelete(s)}>Delete</button>
          </div>
        </td>
      </tr>
      <tr class="progress-row">
        <td colSpan={6}><SyncProgress storage={s} role={props.role} /></td>
      </tr>
    </>
  );
}
