/** The project's tasks, paged with the API's cursor (Previous goes back to a remembered cursor). */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { ErrorBanner, Loading, Pager } from './components';
import { paths } from './router';
import type { Project, Task } from './types';

const PAGE_SIZE = 25;

interface TaskPage {
  tasks: Task[];
  total?: number;
  next?: string | null;
}

/** One line of a task's data, cut to a readable length. */
export function preview(data: unknown, max = 120): string {
  const text = JSON.stringify(data) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function TasksPage({ project }: { project: Project }) {
  // cursors[i] is the cursor of page i + 1 (null: the first page).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [index, setIndex] = useState(0);
  const [data, setData] = useState<TaskPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setData(null);
    setError(null);
    const cursor = cursors[index];
    const q = `project=${project.id}&page_size=${PAGE_SIZE}&resolve_uri=false${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    api<TaskPage>('GET', `/api/tasks?${q}`).then(setData, setError);
  }, [project.id, index]);
  const next = () => {
    if (!data?.next) return;
    setCursors([...cursors.slice(0, index + 1), data.next]);
    setIndex(index + 1);
  };
  const pages = data?.total !== undefined ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : undefined;
  return (
    <section aria-labelledby="tasks-title">
      <h2 id="tasks-title">Tasks{data?.total !== undefined ? ` (${data.total})` : ''}</h2>
      <ErrorBanner error={error} />
      {!data && !error && <Loading what="tasks" />}
      {data && data.tasks.length === 0 && index === 0 && <p>No tasks yet: add a source storage and press Sync.</p>}
      {data && data.tasks.length > 0 && (
        <table>
          <caption class="sr-only">Tasks, page {index + 1}</caption>
          <thead>
            <tr><th scope="col">ID</th><th scope="col">Data</th><th scope="col">Annotations</th><th scope="col">Storage filename</th><th scope="col">Object exists</th></tr>
          </thead>
          <tbody>
            {data.tasks.map((t) => (
              <tr key={t.id}>
                <th scope="row"><a href={paths.task(project.id, t.id)} aria-label={`Task ${t.id}`}>{t.id}</a></th>
                <td class="preview" title={preview(t.data, 2000)}>{preview(t.data)}</td>
                <td>{t.total_annotations ?? 0}</td>
                <td>{t.storage_filename ?? ''}</td>
                <td>{t.object_exists === false ? 'No' : 'Yes'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && (index > 0 || data.next) && (
        <Pager label="Task pages" page={index + 1} pages={pages} hasPrev={index > 0} hasNext={Boolean(data.next)} onPrev={() => setIndex(index - 1)} onNext={next} />
      )}
    </section>
  );
}
