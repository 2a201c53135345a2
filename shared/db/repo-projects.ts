/**
 * Projects: `PROJECT#<id>` items, listed per organization through gsi1
 * (`ORG#<org>#PROJECTS`, sort key = zero-padded id). Task/annotation/prediction counters live on
 * the project item and are adjusted with atomic ADD by the task and annotation repositories.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys, pad } from './keys';
import type { ProjectItem } from './items';
import { COUNTER_ATTEMPTS, queryPages, setFields, stripKeys, updateIf, type Db } from './repo-common';

/** Stores a new project (its id comes from `nextId(db, 'project')`). */
export async function putProject(db: Db, p: ProjectItem): Promise<void> {
  await db.doc.send(
    new PutCommand({
      TableName: db.table,
      Item: { ...keys.project(p.id), ...keys.projectsOfOrg(p.orgId), gsi1sk: pad(p.id), ...p },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}

/** One project by id (any organization; callers check `orgId`), or undefined. */
export async function getProject(db: Db, id: number): Promise<ProjectItem | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.project(id) }));
  return stripKeys<ProjectItem>(res.Item);
}

/**
 * A page of an organization's projects in id order, starting after `afterId`.
 * Returns the page and whether more exist.
 */
export async function listProjects(
  db: Db,
  orgId: string,
  opts: { afterId?: number; limit: number },
): Promise<{ items: ProjectItem[]; hasMore: boolean }> {
  const items: ProjectItem[] = [];
  const input = {
    IndexName: 'gsi1',
    KeyConditionExpression: opts.afterId ? 'gsi1pk = :pk AND gsi1sk > :after' : 'gsi1pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.projectsOfOrg(orgId).gsi1pk, ...(opts.afterId ? { ':after': pad(opts.afterId) } : {}) },
  };
  // One more than the page: tells whether more exist.
  for await (const page of queryPages(db, input, () => opts.limit + 1 - items.length)) {
    for (const it of page.items) items.push(stripKeys<ProjectItem>(it)!);
    if (items.length > opts.limit) break;
  }
  const hasMore = items.length > opts.limit;
  return { items: items.slice(0, opts.limit), hasMore };
}

/** Number of projects of an organization (a COUNT query on its own gsi1 partition, not a scan). */
export async function countProjects(db: Db, orgId: string): Promise<number> {
  let n = 0;
  const input = { IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: { ':pk': keys.projectsOfOrg(orgId).gsi1pk }, Select: 'COUNT' as const };
  for await (const page of queryPages(db, input)) n += page.count;
  return n;
}

/**
 * Sets the given fields of an existing project (and `updated_at`). Returns the new item, or
 * undefined when the project does not exist.
 */
export async function updateProject(
  db: Db,
  id: number,
  patch: Partial<Pick<ProjectItem, 'title' | 'description' | 'label_config' | 'data_keys'>>,
): Promise<ProjectItem | undefined> {
  return setFields<ProjectItem>(db, keys.project(id), patch);
}

/**
 * Adjusts the project's counters by deltas (negative to decrement). A missing project is
 * ignored (the condition keeps a deleted project from being recreated as a stub). Retried while
 * a transaction holds the project item (COUNTER_ATTEMPTS): a refused ADD wrote nothing.
 */
export async function adjustProjectCounters(
  db: Db,
  id: number,
  delta: { tasks?: number; annotations?: number; predictions?: number },
): Promise<void> {
  const parts: string[] = [];
  const values: Record<string, number> = {};
  if (delta.tasks) { parts.push('task_number :t'); values[':t'] = delta.tasks; }
  if (delta.annotations) { parts.push('total_annotations_number :a'); values[':a'] = delta.annotations; }
  if (delta.predictions) { parts.push('total_predictions_number :p'); values[':p'] = delta.predictions; }
  if (!parts.length) return;
  await updateIf(db, {
    Key: keys.project(id),
    UpdateExpression: `ADD ${parts.join(', ')}`,
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: values,
  }, COUNTER_ATTEMPTS);
}
