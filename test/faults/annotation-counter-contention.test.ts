/**
 * Annotation writes on one hot task under AWS-strict DynamoDB (shared/db/strict-middleware.ts on
 * DynamoDB Local): every create, delete and cancel-flip shares the task and project counter items,
 * so concurrent writers are refused with TransactionCanceledException (TransactionConflict) and
 * plain writes on those items with TransactionConflictException, as DynamoDB does. Each write must
 * still land exactly once and the counters must match the annotations left.
 */
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { createDocumentClient } from '../../shared/db/client';
import { reserveIds } from '../../shared/db/counters';
import { keys } from '../../shared/db/keys';
import type { AnnotationItem, TaskItem } from '../../shared/db/items';
import { createAnnotation, deleteAnnotation, listTaskAnnotations, updateAnnotation } from '../../shared/db/repo-annotations';
import { adjustProjectCounters } from '../../shared/db/repo-projects';
import { deleteTaskIfUnannotated } from '../../shared/db/repo-tasks';
import type { Db } from '../../shared/db/repo-common';
import { installStrictMiddleware, type StrictDbStats } from '../../shared/db/strict-middleware';

const em = inject('emulators');
const table = inject('tableName');

function strictDb(holdMs: number): { db: Db; stats: StrictDbStats } {
  const doc = createDocumentClient({ endpoint: em.dynamodb.endpoint, region: em.dynamodb.region });
  return { db: { doc, table }, stats: installStrictMiddleware(doc, { throttleRate: 0, holdMs }) };
}

/** A bare project and task item (the counters' conditions need only that they exist). */
async function hotTask(db: Db): Promise<{ taskId: number; projectId: number }> {
  const [taskId, projectId] = [await reserveIds(db, 'task', 1), await reserveIds(db, 'project', 1)];
  await db.doc.send(new PutCommand({ TableName: table, Item: { ...keys.project(projectId), kind: 'project', id: projectId } }));
  await db.doc.send(new PutCommand({ TableName: table, Item: { ...keys.task(taskId), kind: 'task', id: taskId, project: projectId, total_annotations: 0, cancelled_annotations: 0, is_labeled: false } }));
  return { taskId, projectId };
}

async function annotation(db: Db, t: { taskId: number; projectId: number }): Promise<AnnotationItem> {
  const now = new Date().toISOString();
  const id = await reserveIds(db, 'annotation', 1);
  return { kind: 'annotation', id, taskId: t.taskId, projectId: t.projectId, orgId: 'org-contention', result: [], completed_by: null, ground_truth: false, lead_time: null, was_cancelled: false, version: 1, created_at: now, updated_at: now };
}

async function counters(db: Db, t: { taskId: number; projectId: number }) {
  const task = (await db.doc.send(new GetCommand({ TableName: table, Key: keys.task(t.taskId), ConsistentRead: true }))).Item!;
  const project = (await db.doc.send(new GetCommand({ TableName: table, Key: keys.project(t.projectId), ConsistentRead: true }))).Item!;
  return { total_annotations: task.total_annotations, cancelled_annotations: task.cancelled_annotations, is_labeled: task.is_labeled, total_annotations_number: project.total_annotations_number ?? 0 };
}

/** `n` calls at once; each one's outcome ("ok" or the error's name) for the failure message. */
async function outcomes(calls: (() => Promise<unknown>)[]): Promise<string[]> {
  const settled = await Promise.allSettled(calls.map((c) => c()));
  return settled.map((s) => (s.status === 'fulfilled' ? 'ok' : String((s.reason as Error)?.name ?? s.reason)));
}

describe('annotation writes on one hot task (AWS-strict transaction conflicts)', () => {
  it('a delete whose is_labeled clean-up meets another transaction on the task still succeeds', async () => {
    const { db, stats } = strictDb(150);
    const t = await hotTask(db);
    const a = await createAnnotation(db, await annotation(db, t));
    // The moment the delete's transaction has committed and it sends its follow-up write on the
    // task, another transaction holds the task item (as a concurrent annotation write would).
    let blocker: Promise<unknown> | undefined;
    db.doc.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { UpdateExpression?: string; Key?: { pk?: string } };
        if (!blocker && /^Update(Item)?Command$/.test(String((context as { commandName?: string }).commandName)) && input.Key?.pk === keys.task(t.taskId).pk && input.UpdateExpression?.includes('is_labeled = :false')) {
          blocker = db.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: { TableName: table, Key: keys.task(t.taskId), UpdateExpression: 'SET touched = :x', ExpressionAttributeValues: { ':x': 1 } } }] }));
          while (stats.holding === 0) await new Promise((r) => setTimeout(r, 2));
        }
        return next(args);
      },
      { step: 'initialize', name: 'blockTaskDuringCleanup', priority: 'high' },
    );
    expect(await outcomes([() => deleteAnnotation(db, a)])).toEqual(['ok']);
    await blocker;
    expect(blocker, 'the clean-up really met a held task item').toBeDefined();
    expect(stats.conflicts, 'refused at least once with TransactionConflictException').toBeGreaterThan(0);
    expect(await counters(db, t)).toEqual({ total_annotations: 0, cancelled_annotations: 0, is_labeled: false, total_annotations_number: 0 });
  });

  it('10 concurrent creates, cancel flips and deletes of one task each land once; counters stay exact', async () => {
    const { db, stats } = strictDb(15);
    const t = await hotTask(db);
    const items = await Promise.all(Array.from({ length: 10 }, () => annotation(db, t)));
    expect(await outcomes(items.map((a) => () => createAnnotation(db, a))), 'each create').toEqual(Array(10).fill('ok'));
    expect(await counters(db, t)).toEqual({ total_annotations: 10, cancelled_annotations: 0, is_labeled: true, total_annotations_number: 10 });
    const flipped = items.slice(0, 5);
    expect(await outcomes(flipped.map((a) => () => updateAnnotation(db, a.id, { was_cancelled: true }))), 'each cancel flip').toEqual(Array(5).fill('ok'));
    expect(await counters(db, t)).toEqual({ total_annotations: 5, cancelled_annotations: 5, is_labeled: true, total_annotations_number: 5 });
    const stored = await listTaskAnnotations(db, t.taskId);
    expect(await outcomes(stored.map((a) => () => deleteAnnotation(db, a))), 'each delete').toEqual(Array(10).fill('ok'));
    expect(await listTaskAnnotations(db, t.taskId)).toEqual([]);
    expect(await counters(db, t)).toEqual({ total_annotations: 0, cancelled_annotations: 0, is_labeled: false, total_annotations_number: 0 });
    expect(stats.cancelled, 'transactions really conflicted').toBeGreaterThan(0);
  }, 60_000);

  it('task counters and unannotated-task deletes written while an annotation transaction holds the item still land', async () => {
    const { db, stats } = strictDb(400);
    const t = await hotTask(db);
    const holdWhile = async <T>(key: { pk: string; sk: string }, write: () => Promise<T>): Promise<T> => {
      const tx = db.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: { TableName: table, Key: key, UpdateExpression: 'SET touched = :x', ExpressionAttributeValues: { ':x': 1 } } }] }));
      while (stats.holding === 0) await new Promise((r) => setTimeout(r, 2));
      const [out] = await Promise.all([write(), tx]);
      return out;
    };
    // As POST /api/tasks and task deletes adjust the project after writing the tasks.
    await holdWhile(keys.project(t.projectId), () => adjustProjectCounters(db, t.projectId, { tasks: 3, predictions: 1 }));
    const project = (await db.doc.send(new GetCommand({ TableName: table, Key: keys.project(t.projectId), ConsistentRead: true }))).Item!;
    expect(project).toMatchObject({ task_number: 3, total_predictions_number: 1 });
    expect(await holdWhile(keys.task(t.taskId), () => deleteTaskIfUnannotated(db, { id: t.taskId, projectId: t.projectId } as TaskItem)), 'the unannotated task is deleted').toBe(true);
    expect(stats.conflicts, 'both writes were refused at least once').toBeGreaterThanOrEqual(2);
  });
});
