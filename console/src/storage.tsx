/** Cloud Storage settings of a project. */
import type { Project } from './types';
export function StoragePage({ project }: { project: Project }) {
  return <h2>Cloud Storage of {project.title}</h2>;
}
