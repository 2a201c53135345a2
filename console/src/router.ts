/**
 * Path routing under `/console/…` with the History API: every console path is a deep link (the
 * server answers each with the app), in-app links change the path without a reload.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'projects' }
  | { page: 'storage'; projectId: number }
  | { page: 'tasks'; projectId: number }
  | { page: 'task'; projectId: number; taskId: number }
  | { page: 'webhooks'; projectId: number }
  | { page: 'not-found'; path: string };

/** The route of a path. */
export function parseRoute(path: string): Route {
  const p = path.replace(/\/+$/, '') || '/';
  if (p === '/' || p === '/console' || p === '/console/projects') return { page: 'projects' };
  let m = /^\/console\/projects\/(\d+)(?:\/(storage|tasks|webhooks))?$/.exec(p);
  if (m) {
    const projectId = Number(m[1]);
    const tab = (m[2] ?? 'storage') as 'storage' | 'tasks' | 'webhooks';
    return { page: tab, projectId };
  }
  m = /^\/console\/projects\/(\d+)\/tasks\/(\d+)$/.exec(p);
  if (m) return { page: 'task', projectId: Number(m[1]), taskId: Number(m[2]) };
  return { page: 'not-found', path };
}

export const paths = {
  projects: () => '/console/projects',
  storage: (id: number) => `/console/projects/${id}/storage`,
  tasks: (id: number) => `/console/projects/${id}/tasks`,
  task: (id: number, taskId: number) => `/console/projects/${id}/tasks/${taskId}`,
  webhooks: (id: number) => `/console/projects/${id}/webhooks`,
};

const listeners = new Set<() => void>();

/** Goes to a console path (no reload). */
export function navigate(to: string): void {
  if (to === location.pathname + location.search) return;
  history.pushState(null, '', to);
  listeners.forEach((l) => l());
}

/** The current path (re-renders on navigation and on Back/Forward). */
export function useLocation(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

/** Makes plain same-origin `<a href="/console/…">` clicks navigate in-app. */
export function interceptLinks(): void {
  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.origin !== location.origin || !a.pathname.startsWith('/console')) return;
    ev.preventDefault();
    navigate(a.pathname + a.search);
  });
}
