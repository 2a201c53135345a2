/** The project list (paged) and the Create Project form. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { Dialog, ErrorBanner, Loading, Pager, when } from './components';
import { navigate, paths } from './router';
import { TEMPLATES } from './templates';
import type { Project } from './types';

const PAGE_SIZE = 20;

interface ProjectPage {
  count: number;
  results: Project[];
}

export function ProjectsPage() {
  const [page, setPage] = useState(1);
  const [data, setData] = useState<ProjectPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setError(null);
    api<ProjectPage>('GET', `/api/projects?page=${page}&page_size=${PAGE_SIZE}`)
      .then(setData)
      .catch((e) => {
        // A page past the last (another tab deleted projects) is Label Studio's 404 "Invalid page.".
        if (e instanceof ApiError && e.status === 404 && page > 1) setPage(1);
        else setError(e);
      });
  }, [page]);
  const [creating, setCreating] = useState(false);
  const pages = data ? Math.max(1, Math.ceil(data.count / PAGE_SIZE)) : 1;
  return (
    <>
      <div class="section-head">
        <h1 tabIndex={-1}>Projects</h1>
        <button type="button" class="primary" onClick={() => setCreating(true)}>Create Project</button>
      </div>
      <ErrorBanner error={error} />
      {!data && !error && <Loading what="projects" />}
      {data && data.results.length === 0 && <p>No projects yet: press Create Project to make one.</p>}
      {data && data.results.length > 0 && (
        <>
          <table>
            <caption class="sr-only">Projects, page {page} of {pages}</caption>
            <thead>
              <tr><th scope="col">Title</th><th scope="col">ID</th><th scope="col">Tasks</th><th scope="col">Annotations</th><th scope="col">Created</th></tr>
            </thead>
            <tbody>
              {data.results.map((p) => (
                <tr key={p.id}>
                  <th scope="row"><a href={paths.storage(p.id)}>{p.title || `Project ${p.id}`}</a></th>
                  <td>{p.id}</td>
                  <td>{p.task_number ?? 0}</td>
                  <td>{p.total_annotations_number ?? 0}</td>
                  <td>{when(p.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager label="Project pages" page={page} pages={pages} hasPrev={page > 1} hasNext={page < pages} onPrev={() => setPage(page - 1)} onNext={() => setPage(page + 1)} />
        </>
      )}
      {creating && <CreateProject onClose={() => setCreating(false)} />}
    </>
  );
}

function CreateProject({ onClose }: { onClose: () => void }) {
  const [title, setTitle] = useState('');
  const [template, setTemplate] = useState(TEMPLATES[0].id);
  const [config, setConfig] = useState(TEMPLATES[0].config);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fieldErrors = error instanceof ApiError ? error.fields : {};
  const chooseTemplate = (id: string) => {
    setTemplate(id);
    const t = TEMPLATES.find((x) => x.id === id);
    if (t) setConfig(t.config);
  };
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const p = await api<Project>('POST', '/api/projects', { title, label_config: config });
      navigate(paths.storage(p.id));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="Create Project" onClose={onClose}>
      <form onSubmit={submit} noValidate class="form">
        {error instanceof ApiError && Object.keys(error.fields).length > 0 && error.general.length === 0 ? null : <ErrorBanner error={error} />}
        <div class="field">
          <label for="project-title">Title</label>
          <input id="project-title" autoFocus value={title} maxLength={50} onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
            aria-invalid={fieldErrors.title ? true : undefined} aria-describedby={fieldErrors.title ? 'project-title-error' : undefined} />
          {fieldErrors.title && <p class="field-error" id="project-title-error">{fieldErrors.title.join(' ')}</p>}
        </div>
        <div class="field">
          <label for="project-template">Labeling template</label>
          <select id="project-template" value={template} onChange={(e) => chooseTemplate((e.target as HTMLSelectElement).value)}>
            {TEMPLATES.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="project-config">Label config</label>
          <textarea id="project-config" rows={8} value={config} onInput={(e) => setConfig((e.target as HTMLTextAreaElement).value)} spellcheck={false}
            aria-invalid={fieldErrors.label_config ? true : undefined} aria-describedby={fieldErrors.label_config ? 'project-config-error' : undefined} />
          {fieldErrors.label_config && <p class="field-error" id="project-config-error">{fieldErrors.label_config.join(' ')}</p>}
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>Create</button>
          <button type="button" onClick={onClose}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}
