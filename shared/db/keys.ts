/**
 * Key builders for the single table (see shared/db/schema.ts and docs/data-model.md).
 * Numeric ids are zero-padded in sort keys so lexicographic order is numeric order.
 */
import { PROJECT_SHARDS } from './schema';

export const pad = (n: number): string => String(n).padStart(12, '0');
export const shardOf = (id: number): number => id % PROJECT_SHARDS;

export const keys = {
  org: (orgId: string) => ({ pk: `ORG#${orgId}`, sk: 'ORG' }),
  token: (tokenHash: string) => ({ pk: `TOKEN#${tokenHash}`, sk: 'TOKEN' }),
  counter: (name: string) => ({ pk: `COUNTER#${name}`, sk: 'COUNTER' }),
  project: (id: number) => ({ pk: `PROJECT#${id}`, sk: 'PROJECT' }),
  projectsOfOrg: (orgId: string) => ({ gsi1pk: `ORG#${orgId}#PROJECTS` }),
  storage: (id: number) => ({ pk: `STORAGE#${id}`, sk: 'STORAGE' }),
  storagesOfProject: (projectId: number) => ({ gsi1pk: `PROJECT#${projectId}#STORAGES` }),
  task: (id: number) => ({ pk: `TASK#${id}`, sk: 'TASK' }),
  /** gsi1 of a task: its project, sharded by id. */
  tasksOfProject: (projectId: number, shard: number) => ({ gsi1pk: `PROJECT#${projectId}#TASKS#${shard}` }),
  annotation: (id: number) => ({ pk: `ANNOTATION#${id}`, sk: 'ANNOTATION' }),
  /** gsi1 of an annotation: its task. */
  annotationsOfTask: (taskId: number) => ({ gsi1pk: `TASK#${taskId}#ANNOTATIONS` }),
  /** gsi2 of an annotation: its project, sharded by id (export sync walks these). */
  annotationsOfProject: (projectId: number, shard: number) => ({ gsi2pk: `PROJECT#${projectId}#ANNOTATIONS#${shard}` }),
  webhook: (id: number) => ({ pk: `WEBHOOK#${id}`, sk: 'WEBHOOK' }),
  /** gsi1 of a webhook: its organization (sort key = zero-padded id). */
  webhooksOfOrg: (orgId: string) => ({ gsi1pk: `ORG#${orgId}#WEBHOOKS` }),
  /** A delivery of a webhook; ids start with the creation time, so the partition reads newest first backwards. */
  webhookDelivery: (webhookId: number, deliveryId: string) => ({ pk: `WEBHOOK#${webhookId}`, sk: `DELIVERY#${deliveryId}` }),
  /** Marks an event as recorded for a webhook: a re-emitted event (a retried sync chunk) is not delivered twice. */
  webhookEvent: (webhookId: number, eventId: string) => ({ pk: `WEBHOOK#${webhookId}`, sk: `EVENT#${eventId}` }),
};
