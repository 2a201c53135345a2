/**
 * Tasks: `TASK#<id>` items, indexed on gsi1 by project and shard
 * (`PROJECT#<p>#TASKS#<id % 16>`, sort key = zero-padded id) so one project can hold millions of
 * tasks without a hot partition. A project listing is a k-way merge of the 16 shards.
 */
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { keys, pad, shardOf } from './keys';
import type { AnnotationItem, TaskItem } from './items';
import { listTaskAnnotations } from './repo-annotations';
import { adjustProjectCounters } from './repo-projects';
import { batchGet, batchWrite, COUNTER_ATTEMPTS, isConditionalFailure, retryContention, setFields, stripKeys, updateIf, type Db } from './repo-common';
import { mergeShards } from './repo-shard-merge';

/**
 * The stored form of a task (keys included). Defaults are left out — counters at zero,
 * `is_labeled: false`, `updated_at` equal to `created_at`, a null `source.row_index` — because a
 * sync writes millions of fresh tasks and DynamoDB's work grows with the attributes of each item;
 * {@link itemToTask} restores them, and the annotation repository's ADDs start from an absent counter.
 */
export function taskToItem(t: TaskItem): Record<string, unknown> {
  const { is_labeled, total_annotations, cancelled_annotations, total_predictions, updated_at, source, ...rest } = t;
  return {
    ...keys.task(t.id),
    ...keys.tasksOfProject(t.projectId, shardOf(t.id)),
    gsi1sk: pad(t.id),
    ...rest,
    ...(updated_at !== t.created_at ? { updated_at } : {}),
    ...(source ? { source: source.row_index === null ? { storageId: source.storageId, key: source.key } : source } : {}),
    ...(is_labeled ? { is_labeled } : {}),
    ...(total_annotations ? { total_annotations } : {}),
    ...(cancelled_annotations ? { cancelled_annotations } : {}),
    ...(total_predictions ? { total_predictions } : {}),
    kind: 'task',
  };
}

/** A stored task item as a task: keys stripped, omitted counters back at their defaults. */
export function itemToTask(item: Record<string, unknown> | undefined): TaskItem | undefined {
  const t = stripKeys<TaskItem>(item);
  if (!t) return undefined;
  t.is_labeled ??= false;
  t.total_annotations ??= 0;
  t.cancelled_annotations ??= 0;
  t.total_predictions ??= 0;
  t.updated_at ??= t.created_at;
  if (t.source) t.source.row_index ??= null;
  return t;
}

/** One task by id (any organization; callers check `orgId`), or undefined. */
export async function getTask(db: Db, id: number): Promise<TaskItem | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.task(id) }));
  return itemToTask(res.Item);
}

/** Several tasks by id (BatchGetItem in groups of 100, unprocessed keys retried, bounded). Missing ids are absent. */
export async function getTasks(db: Db, ids: number[]): Promise<Map<number, TaskItem>> {
  const out = new Map<number, TaskItem>();
  await batchGet(db, ids.map((id) => keys.task(id)), (it) => {
    const t = itemToTask(it)!;
    out.set(t.id, t);
  });
  return out;
}

/**
 * Writes NEW tasks (ids reserved with `reserveIds(db, 'task', n)`) in batches of 25 with bounded
 * retries of UnprocessedItems, then adds their count and prediction count to each project's
 * counters (unless `adjustCounters: false`, for callers that rewrite tasks they already counted).
 */
export async function putTasks(db: Db, tasks: TaskItem[], opts: { adjustCounters?: boolean } = {}): Promise<void> {
  if (!tasks.length) return;
  await batchWrite(db, tasks.map((t) => ({ PutRequest: { Item: taskToItem(t) } })), { concurrency: 8 });
  if (opts.adjustCounters === false) return;
  const perProject = new Map<number, { tasks: number; predictions: number }>();
  for (const t of tasks) {
    const c = perProject.get(t.projectId) ?? { tasks: 0, predictions: 0 };
    c.tasks += 1;
    c.predictions += t.total_predictions ?? 0;
    perProject.set(t.projectId, c);
  }
  for (const [projectId, c] of perProject) await adjustProjectCounters(db, projectId, c);
}

/**
 * Sets fields of an existing task (and `updated_at`). Returns the new task, or undefined when it
 * does not exist. Counter fields are owned by the annotation repository; do not pass them here.
 */
export async function updateTask(
  db: Db,
  id: number,
  patch: Partial<Pick<TaskItem, 'data' | 'meta' | 'predictions' | 'allow_skip' | 'object_exists' | 'source' | 'total_predictions'>>,
): Promise<TaskItem | undefined> {
  return itemToTask(await setFields<Record<string, unknown>>(db, keys.task(id), patch));
}

/**
 * Deletes a task and all its annotations (each annotation delete reaches the table stream, so
 * the export pipeline can delete exported objects), and lowers the project counters.
 * Link items of synced tasks belong to the sync module and are not touched here.
 */
export async function deleteTask(db: Db, task: TaskItem): Promise<void> {
  await deleteTasksOfProject(db, task.projectId, [task]);
}

/**
 * Deletes tasks of one project as {@link deleteTask} does, batched: annotation lookups 16 at a
 * time, the deletes in BatchWriteItem calls, one counter update.
 */
async function deleteTasksOfProject(db: Db, projectId: number, tasks: TaskItem[]): Promise<void> {
  const annotations: AnnotationItem[] = [];
  for (let i = 0; i < tasks.length; i += 16) {
    for (const list of await Promise.all(tasks.slice(i, i + 16).map((t) => listTaskAnnotations(db, t.id)))) annotations.push(...list);
  }
  await batchWrite(db, [
    ...annotations.map((a) => ({ DeleteRequest: { Key: keys.annotation(a.id) } })),
    ...tasks.map((t) => ({ DeleteRequest: { Key: keys.task(t.id) } })),
  ], { concurrency: 8 });
  await adjustProjectCounters(db, projectId, {
    tasks: -tasks.length,
    annotations: -annotations.filter((a) => !a.was_cancelled).length,
    predictions: -tasks.reduce((n, t) => n + (t.total_predictions ?? 0), 0),
  });
}

/** The task item holds no annotation (cancelled ones included) and no prediction: absent counters are 0. */
const HAS_NO_WORK = ['total_annotations', 'cancelled_annotations', 'total_predictions']
  .map((c) => `(attribute_not_exists(${c}) OR ${c} = :zero)`)
  .join(' AND ');

/**
 * Deletes a task only while it has no annotation (cancelled ones included) and no prediction, as
 * the condition of the delete itself: every annotation write changes the task's counters in the
 * same transaction and requires the task to exist, so an annotation saved meanwhile either makes
 * this delete fail or fails itself (404) — it is never deleted unseen with its task.
 * Returns false when the task has such work or no longer exists (nothing deleted).
 */
export async function deleteTaskIfUnannotated(db: Db, task: TaskItem): Promise<boolean> {
  try {
    // An annotation transaction holding the task refuses the delete (TransactionConflictException);
    // the retry then evaluates the condition against the counters that transaction left.
    await retryContention(() =>
      db.doc.send(
        new DeleteCommand({
          TableName: db.table,
          Key: keys.task(task.id),
          ConditionExpression: `attribute_exists(pk) AND ${HAS_NO_WORK}`,
          ExpressionAttributeValues: { ':zero': 0 },
        }),
      ), COUNTER_ATTEMPTS);
  } catch (e) {
    if (isConditionalFailure(e)) return false;
    throw e;
  }
  await adjustProjectCounters(db, task.projectId, { tasks: -1 });
  return true;
}

/**
 * Deletes a project's tasks (as {@link deleteTask}) page by page until none is left or the clock
 * passes `deadline` (epoch ms), appending their ids to `deletedIds`. `done` is false when tasks
 * may remain.
 */
export async function deleteProjectTasks(db: Db, projectId: number, deadline: number, deletedIds: number[] = []): Promise<{ deleted: number; done: boolean }> {
  let deleted = 0;
  for (;;) {
    const page = await listProjectTasks(db, projectId, { limit: 200 });
    if (!page.items.length) return { deleted, done: true };
    await deleteTasksOfProject(db, projectId, page.items);
    deleted += page.items.length;
    for (const t of page.items) deletedIds.push(t.id);
    if (Date.now() > deadline) return { deleted, done: !page.hasMore };
  }
}

/**
 * A page of a project's tasks in ascending id order, after `afterId` (the cursor), plus whether
 * more exist. Reads about `limit / 16` items from each of the 16 shards per page.
 */
export async function listProjectTasks(
  db: Db,
  projectId: number,
  opts: { afterId?: number; limit: number },
): Promise<{ items: TaskItem[]; hasMore: boolean }> {
  const res = await mergeShards(db, { index: 'gsi1', partition: (s) => keys.tasksOfProject(projectId, s).gsi1pk }, opts);
  return { items: res.items.map((i) => itemToTask(i)!), hasMore: res.hasMore };
}

/**
 * The id after which the `skip`-th task of the project (in id order) follows, reading ids only
 * (for page-number access; cursors avoid this cost). Undefined when the project has fewer tasks.
 */
export async function skipProjectTasks(db: Db, projectId: number, skip: number, afterId?: number): Promise<number | undefined> {
  let after = afterId;
  let remaining = skip;
  while (remaining > 0) {
    const n = Math.min(remaining, 5_000);
    const res = await mergeShards(
      db,
      { index: 'gsi1', partition: (s) => keys.tasksOfProject(projectId, s).gsi1pk },
      { afterId: after, limit: n, projection: ['id'] },
    );
    if (res.items.length < n) return undefined;
    after = res.items[res.items.length - 1].id as number;
    remaining -= n;
  }
  return after;
}

/**
 * Rewrites a synced task's `data` and `source` in place (annotations, counters and id kept), and
 * with `unflag` sets `object_exists` back to true. Conditional on the task still existing: a task
 * a user deleted is never recreated. Returns false when it is gone.
 */
export async function updateSyncedTaskData(
  db: Db,
  id: number,
  patch: { data: Record<string, unknown>; source: TaskItem['source']; unflag: boolean },
): Promise<boolean> {
  return updateIf(db, {
    Key: keys.task(id),
    UpdateExpression: `SET #data = :d, #source = :s, updated_at = :u${patch.unflag ? ', object_exists = :t' : ''}`,
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeNames: { '#data': 'data', '#source': 'source' },
    ExpressionAttributeValues: { ':d': patch.data, ':s': patch.source, ':u': new Date().toISOString(), ...(patch.unflag ? { ':t': true } : {}) },
  });
}
