/**
 * Annotations: `ANNOTATION#<id>` items, indexed by task on gsi1 (`TASK#<t>#ANNOTATIONS`) and by
 * project shard on gsi2 (`PROJECT#<p>#ANNOTATIONS#<id % 16>`, walked by export sync).
 *
 * Every single write runs in one transaction with the task's counters (`total_annotations`,
 * `cancelled_annotations`, `is_labeled`) and the project's `total_annotations_number`, so counters
 * cannot drift from the annotations that exist. Updates are optimistic on `version`.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '../errors';
import { keys, pad, shardOf } from './keys';
import type { AnnotationItem } from './items';
import { batchWrite, COUNTER_ATTEMPTS, isTransactionConditionFailure, queryAll, stripKeys, transactWrite, updateIf, type Db } from './repo-common';

/** The stored form of an annotation (keys included). */
export function annotationToItem(a: AnnotationItem): Record<string, unknown> {
  return {
    ...keys.annotation(a.id),
    ...keys.annotationsOfTask(a.taskId),
    gsi1sk: pad(a.id),
    ...keys.annotationsOfProject(a.projectId, shardOf(a.id)),
    gsi2sk: pad(a.id),
    ...a,
    kind: 'annotation',
  };
}

/** One annotation by id (any organization; callers check `orgId`), or undefined. */
export async function getAnnotation(db: Db, id: number): Promise<AnnotationItem | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.annotation(id), ConsistentRead: true }));
  return stripKeys<AnnotationItem>(res.Item);
}

/** Task counter update: `labeled` +1/-1, `cancelled` +1/-1. */
function taskCounterUpdate(db: Db, taskId: number, labeled: number, cancelled: number, now: string) {
  const adds: string[] = [];
  const values: Record<string, unknown> = { ':now': now };
  if (labeled) { adds.push('total_annotations :l'); values[':l'] = labeled; }
  if (cancelled) { adds.push('cancelled_annotations :c'); values[':c'] = cancelled; }
  const sets = ['updated_at = :now'];
  if (labeled > 0) { sets.push('is_labeled = :true'); values[':true'] = true; }
  return {
    Update: {
      TableName: db.table,
      Key: keys.task(taskId),
      UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: values,
    },
  };
}

function projectCounterUpdate(db: Db, projectId: number, delta: number) {
  return {
    Update: {
      TableName: db.table,
      Key: keys.project(projectId),
      UpdateExpression: 'ADD total_annotations_number :d',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':d': delta },
    },
  };
}

/**
 * After a decrement, `is_labeled` becomes false only if no labeled annotation is left. A separate
 * conditional write: a concurrent create that already raised the count makes the condition fail,
 * which is the correct outcome. It meets the other annotation transactions on the task item, so
 * it gets the counters' retry budget.
 */
async function clearLabeledIfNone(db: Db, taskId: number): Promise<void> {
  await updateIf(db, {
    Key: keys.task(taskId),
    UpdateExpression: 'SET is_labeled = :false',
    ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(total_annotations) OR total_annotations <= :zero)',
    ExpressionAttributeValues: { ':false': false, ':zero': 0 },
  }, COUNTER_ATTEMPTS);
}

/**
 * Creates one annotation (id from `nextId(db, 'annotation')`) and bumps its task's and project's
 * counters in the same transaction.
 * @throws NotFoundError when the task (or project) no longer exists
 */
export async function createAnnotation(db: Db, a: AnnotationItem): Promise<AnnotationItem> {
  const labeled = a.was_cancelled ? 0 : 1;
  try {
    await transactWrite(db, {
      TransactItems: [
        { Put: { TableName: db.table, Item: annotationToItem(a), ConditionExpression: 'attribute_not_exists(pk)' } },
        taskCounterUpdate(db, a.taskId, labeled, a.was_cancelled ? 1 : 0, a.updated_at),
        ...(labeled ? [projectCounterUpdate(db, a.projectId, 1)] : []),
      ],
    }, COUNTER_ATTEMPTS);
  } catch (e) {
    if (isTransactionConditionFailure(e)) throw new NotFoundError('Task not found.');
    throw e;
  }
  return a;
}

/**
 * Writes annotations of freshly imported tasks in batches (no transactions): the caller has
 * already set the counters on the new task items and adds the project counter itself.
 */
export async function putAnnotations(db: Db, annotations: AnnotationItem[]): Promise<void> {
  await batchWrite(db, annotations.map((a) => ({ PutRequest: { Item: annotationToItem(a) } })), { concurrency: 8 });
}

/** Fields of an annotation a client may change. */
export type AnnotationPatch = Partial<Pick<AnnotationItem, 'result' | 'completed_by' | 'ground_truth' | 'lead_time' | 'was_cancelled' | 'import_id'>>;

/**
 * Applies a patch: bumps `version` and `updated_at`; when `was_cancelled` flips, moves the task
 * and project counters in the same transaction. Optimistic on `version` (re-read and retried up
 * to 5 times under contention).
 * @throws NotFoundError when the annotation does not exist
 * @throws ConflictError when concurrent writers keep winning
 */
export async function updateAnnotation(db: Db, id: number, patch: AnnotationPatch): Promise<AnnotationItem> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await getAnnotation(db, id);
    if (!cur) throw new NotFoundError('Annotation not found.');
    const now = new Date().toISOString();
    const next: AnnotationItem = { ...cur, ...stripUndefined(patch), version: cur.version + 1, updated_at: now };
    const flip = patch.was_cancelled !== undefined && patch.was_cancelled !== cur.was_cancelled;
    const labeledDelta = flip ? (next.was_cancelled ? -1 : 1) : 0;
    try {
      await transactWrite(db, {
          TransactItems: [
            {
              Put: {
                TableName: db.table,
                Item: annotationToItem(next),
                ConditionExpression: 'attribute_exists(pk) AND #v = :v',
                ExpressionAttributeNames: { '#v': 'version' },
                ExpressionAttributeValues: { ':v': cur.version },
              },
            },
            ...(flip
              ? [taskCounterUpdate(db, cur.taskId, labeledDelta, -labeledDelta, now), projectCounterUpdate(db, cur.projectId, labeledDelta)]
              : []),
          ],
        }, COUNTER_ATTEMPTS);
    } catch (e) {
      if (isTransactionConditionFailure(e)) continue;
      throw e;
    }
    if (labeledDelta < 0) await clearLabeledIfNone(db, cur.taskId);
    return next;
  }
  throw new ConflictError('Annotation was modified concurrently; retry.');
}

/**
 * Deletes an annotation and lowers its task's and project's counters. If the task is already
 * gone (task deletion in progress) only the annotation is deleted. Deleting a missing annotation
 * is a no-op.
 */
export async function deleteAnnotation(db: Db, a: AnnotationItem): Promise<void> {
  const labeled = a.was_cancelled ? 0 : -1;
  const now = new Date().toISOString();
  try {
    await transactWrite(db, {
      TransactItems: [
        { Delete: { TableName: db.table, Key: keys.annotation(a.id), ConditionExpression: 'attribute_exists(pk)' } },
        taskCounterUpdate(db, a.taskId, labeled, a.was_cancelled ? -1 : 0, now),
        ...(labeled ? [projectCounterUpdate(db, a.projectId, -1)] : []),
      ],
    }, COUNTER_ATTEMPTS);
  } catch (e) {
    if (!isTransactionConditionFailure(e)) throw e;
    // Either the annotation is gone (nothing to do) or its task/project is: delete it alone.
    await batchWrite(db, [{ DeleteRequest: { Key: keys.annotation(a.id) } }]);
    return;
  }
  if (labeled) await clearLabeledIfNone(db, a.taskId);
}

/** All annotations of one task in id order (paged internally; tasks have few annotations). */
export async function listTaskAnnotations(db: Db, taskId: number): Promise<AnnotationItem[]> {
  const out: AnnotationItem[] = [];
  await queryAll(
    db,
    { IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: { ':pk': keys.annotationsOfTask(taskId).gsi1pk } },
    (it) => out.push(stripKeys<AnnotationItem>(it)!),
  );
  return out;
}

/**
 * Up to `limit` (1..1,000) annotation ids of one project shard (0..15) after `afterId`, in id
 * order (gsi2, ids only); `more` when the shard may hold further ids.
 */
export async function queryProjectAnnotationIds(
  db: Db,
  projectId: number,
  shard: number,
  afterId: number,
  limit: number,
): Promise<{ ids: number[]; more: boolean }> {
  const res = await db.doc.send(
    new QueryCommand({
      TableName: db.table,
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk > :after',
      ExpressionAttributeValues: { ':pk': keys.annotationsOfProject(projectId, shard).gsi2pk, ':after': pad(afterId) },
      ProjectionExpression: 'id',
      Limit: limit,
    }),
  );
  return { ids: (res.Items ?? []).map((it) => Number(it.id)), more: !!res.LastEvaluatedKey };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
