/**
 * Webhooks of a project (Label Studio's webhook API plus labelsync's delivery log): list, add
 * (URL, actions, send payload), delete, and each webhook's last deliveries and failures. A server
 * without the webhook routes (404) gets a notice instead of an error.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { Dialog, ErrorBanner, Loading, when } from './components';
import type { Project } from './types';

interface Webhook {
  id: number;
  url: string;
  send_payload?: boolean;
  send_for_all_actions?: boolean;
  is_active?: boolean;
  consecutive_failures?: number;
  actions?: string[];
}

interface Delivery {
  id: number | string;
  action?: string;
  status?: string;
  attempts?: number;
  response_status?: number | null;
  error?: string | null;
  created_at?: string;
}

/** Label Studio's project-level actions (the catalogue `/api/webhooks/info/` returns them too). */
const DEFAULT_ACTIONS: Record<string, string> = {
  TASKS_CREATED: 'Task created',
  TASKS_DELETED: 'Task deleted',
  ANNOTATION_CREATED: 'Annotation created',
  ANNOTATIONS_CREATED: 'Annotations created',
  ANNOTATION_UPDATED: 'Annotation updated',
  ANNOTATIONS_DELETED: 'Annotation deleted',
  PROJECT_UPDATED: 'Project updated',
};

async function actionCatalogue(): Promise<Record<string, string>> {
  try {
    const info = await api<Record<string, { name?: string; 'organization-only'?: boolean }>>('GET', '/api/webhooks/info/?organization-only=false');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(info)) if (!v['organization-only']) out[k] = v.name ?? k;
    return Object.keys(out).length ? out : DEFAULT_ACTIONS;
  } catch {
    return DEFAULT_ACTIONS;
  }
}

export function WebhooksPage({ project }: { project: Project }) {
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [deliveriesOf, setDeliveriesOf] = useState<Webhook | null>(null);
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const load = () =>
    api<Webhook[]>('GET', `/api/webhooks?project=${project.id}`).then(
      (h) => { setHooks(h); setError(null); },
      (e) => {
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) setMissing(true);
        else setError(e);
      },
    );
  useEffect(() => void load(), [project.id]);
  const remove = async (h: Webhook) => {
    setDeleting(null);
    try {
      await api('DELETE', `/api/webhooks/${h.id}`);
    } catch (e) {
      setError(e);
    }
    await load();
  };
  return (
    <section aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      {missing && <p class="notice" role="status">This server has no webhook API yet (<code>/api/webhooks</code> answered 404).</p>}
      <ErrorBanner error={error} />
      {!missing && !hooks && !error && <Loading what="webhooks" />}
      {hooks && hooks.length === 0 && <p class="muted">No webhooks for this project.</p>}
      {hooks && hooks.length > 0 && (
        <table>
          <thead>
            <tr><th scope="col">URL</th><th scope="col">Actions</th><th scope="col">Payload</th><th scope="col">Active</th><th scope="col">Failures in a row</th><th scope="col">Manage</th></tr>
          </thead>
          <tbody>
            {hooks.map((h) => (
              <tr key={h.id}>
                <th scope="row"><code>{h.url}</code></th>
                <td>{h.send_for_all_actions ? 'All actions' : (h.actions ?? []).join(', ') || 'none'}</td>
                <td>{h.send_payload === false ? 'Action only' : 'Full'}</td>
                <td>{h.is_active === false ? 'No' : 'Yes'}</td>
                <td>{h.consecutive_failures ?? 0}</td>
                <td>
                  <div class="actions">
                    <button type="button" onClick={() => setDeliveriesOf(h)}>Deliveries</button>
                    <button type="button" class="danger" onClick={() => setDeleting(h)}>Delete</button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {hooks && <AddWebhook project={project} onAdded={load} />}
      {deliveriesOf && <Deliveries hook={deliveriesOf} onClose={() => setDeliveriesOf(null)} />}
      {deleting && (
        <Dialog title="Delete webhook" onClose={() => setDeleting(null)}>
          <p>Delete the webhook to <code>{deleting.url}</code>?</p>
          <div class="actions">
            <button type="button" class="danger" onClick={() => remove(deleting)}>Delete</button>
            <button type="button" autoFocus onClick={() => setDeleting(null)}>Cancel</button>
          </div>
        </Dialog>
      )}
    </section>
  );
}

function AddWebhook({ project, onAdded }: { project: Project; onAdded: () => void }) {
  const [catalogue, setCatalogue] = useState<Record<string, string> | null>(null);
  const [url, setUrl] = useState('');
  const [sendPayload, setSendPayload] = useState(true);
  const [all, setAll] = useState(true);
  const [actions, setActions] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => void actionCatalogue().then(setCatalogue), []);
  const fieldErrors = error instanceof ApiError ? error.fields : {};
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/api/webhooks', { project: project.id, url, send_payload: sendPayload, send_for_all_actions: all, actions: all ? [] : [...actions] });
      setUrl('');
      onAdded();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (a: string, on: boolean) => {
    const next = new Set(actions);
    if (on) next.add(a);
    else next.delete(a);
    setActions(next);
  };
  return (
    <section aria-labelledby="add-webhook">
      <h3 id="add-webhook">Add a webhook</h3>
      <form class="form" onSubmit={submit} noValidate>
        <ErrorBanner error={error} />
        <div class="field">
          <label for="webhook-url">Payload URL</label>
          <input id="webhook-url" type="url" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
            aria-invalid={fieldErrors.url ? true : undefined} aria-describedby={fieldErrors.url ? 'webhook-url-error' : undefined} />
          {fieldErrors.url && <p class="field-error" id="webhook-url-error">{fieldErrors.url.join(' ')}</p>}
        </div>
        <div class="field check">
          <input id="webhook-payload" type="checkbox" checked={sendPayload} onChange={(e) => setSendPayload((e.target as HTMLInputElement).checked)} />
          <label for="webhook-payload">Send payload</label>
        </div>
        <div class="field check">
          <input id="webhook-all" type="checkbox" checked={all} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} />
          <label for="webhook-all">Send for all actions</label>
        </div>
        {!all && (
          <fieldset>
            <legend>Actions</legend>
            {catalogue ? Object.entries(catalogue).map(([k, name]) => (
              <div class="field check" key={k}>
                <input id={`webhook-action-${k}`} type="checkbox" checked={actions.has(k)} onChange={(e) => toggle(k, (e.target as HTMLInputElement).checked)} />
                <label for={`webhook-action-${k}`}>{name}</label>
              </div>
            )) : <Loading what="actions" />}
            {fieldErrors.actions && <p class="field-error">{fieldErrors.actions.join(' ')}</p>}
          </fieldset>
        )}
        <div class="actions"><button type="submit" class="primary" disabled={busy}>Add Webhook</button></div>
      </form>
    </section>
  );
}

function Deliveries({ hook, onClose }: { hook: Webhook; onClose: () => void }) {
  const [failedOnly, setFailedOnly] = useState(false);
  const [list, setList] = useState<Delivery[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setList(null);
    api<unknown>('GET', `/api/webhooks/${hook.id}/deliveries${failedOnly ? '?status=failed' : ''}`).then((r) => {
      const rows = Array.isArray(r) ? r : ((r as { results?: Delivery[]; deliveries?: Delivery[] }).results ?? (r as { deliveries?: Delivery[] }).deliveries ?? []);
      setList(rows as Delivery[]);
    }, setError);
  }, [hook.id, failedOnly]);
  return (
    <Dialog title="Webhook deliveries" onClose={onClose} wide>
      <p><code>{hook.url}</code></p>
      <div class="field check">
        <input id="deliveries-failed" type="checkbox" checked={failedOnly} onChange={(e) => setFailedOnly((e.target as HTMLInputElement).checked)} />
        <label for="deliveries-failed">Failed deliveries only</label>
      </div>
      <ErrorBanner error={error} />
      {!list && !error && <Loading what="deliveries" />}
      {list && list.length === 0 && <p class="muted">No deliveries yet.</p>}
      {list && list.length > 0 && (
        <table>
          <thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Response</th><th scope="col">Error</th></tr></thead>
          <tbody>
            {list.map((d) => (
              <tr key={d.id}>
                <td>{when(d.created_at)}</td><td>{d.action ?? ''}</td><td>{d.status ?? ''}</td><td>{d.attempts ?? ''}</td>
                <td>{d.response_status ?? ''}</td><td>{d.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="actions"><button type="button" onClick={onClose}>Close</button></div>
    </Dialog>
  );
}
