import type { Project } from './types';
export function WebhooksPage({ project }: { project: Project }) {
  return <h2>Webhooks of {project.title}</h2>;
}
