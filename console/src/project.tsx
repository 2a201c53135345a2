/** One project: its title and the tabs Cloud Storage, Tasks, Webhooks. */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { ErrorBanner, Loading } from './components';
import { paths, type Route } from './router';
import { StoragePage } from './storage';
import { TasksPage } from './tasks';
import { TaskPage } from './task';
import { WebhooksPage } from './webhooks';
import type { Project } from './types';

type ProjectRoute = Extract<Route, { projectId: number }>;

export function ProjectPage({ route }: { route: ProjectRoute }) {
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<Project>('GET', `/api/projects/${route.projectId}`).then(setProject, setError);
  }, [route.projectId]);
  // The heading appears only once the project is loaded: move focus to it then (as on navigation).
  useEffect(() => {
    if (project || error) document.querySelector<HTMLElement>('main h1')?.focus();
  }, [project !== null, error !== null]);
  if (error) {
    return (
      <>
        <h1 tabIndex={-1}>Project {route.projectId}</h1>
        <ErrorBanner error={error} />
      </>
    );
  }
  if (!project) return <Loading what="the project" />;
  const tab = route.page === 'task' ? 'tasks' : route.page;
  const tabs: [typeof tab, string, string][] = [
    ['storage', 'Cloud Storage', paths.storage(project.id)],
    ['tasks', 'Tasks', paths.tasks(project.id)],
    ['webhooks', 'Webhooks', paths.webhooks(project.id)],
  ];
  return (
    <>
      <h1 tabIndex={-1}>{project.title || `Project ${project.id}`}</h1>
      <nav aria-label="Project" class="tabs">
        {tabs.map(([id, label, href]) => (
          <a key={id} href={href} aria-current={tab === id ? 'page' : undefined}>{label}</a>
        ))}
      </nav>
      {route.page === 'storage' && <StoragePage project={project} />}
      {route.page === 'tasks' && <TasksPage project={project} />}
      {route.page === 'task' && <TaskPage project={project} taskId={route.taskId} />}
      {route.page === 'webhooks' && <WebhooksPage project={project} />}
    </>
  );
}
