import type { Project } from './types';
export function TaskPage({ project, taskId }: { project: Project; taskId: number }) {
  return <h2>Task {taskId} of {project.title}</h2>;
}
