import type { Project } from './types';
export function TasksPage({ project }: { project: Project }) {
  return <h2>Tasks of {project.title}</h2>;
}
