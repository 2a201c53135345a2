/**
 * The stream export moves the target storage's counters (meta.annotations_*_total,
 * meta.last_exported_at) as annotations stream out, without an export sync: changes made through
 * the repositories reach the table's real DynamoDB stream and go to the export use case as the
 * event source mapping delivers them. Targets are local files (a working one) and S3 on s3rver
 * with a bucket that does not exist (a failing one). The last case runs the counter update on the
 * AWS-strict middleware (throttling, transaction conflicts on the storage item).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, SDK_MAX_ATTEMPTS } from '../../shared/db/client';
import { deleteAnnotation, getAnnotation } from '../../shared/db/repo-annotations';
import { getStorage } from '../../shared/db/repo-storages';
import { keys } from '../../shared/db/keys';
import type { StorageItem } from '../../shared/db/items';
import { installStrictMiddleware } from '../../shared/db/strict-middleware';
import { processAnnotationRecords } from '../../shared/export/process-records';
import { addTargetCounts, EXPORT_COUNTER_META as M } from '../../shared/export/target-counters';
import type { StreamRecordLike } from '../../shared/export/stream-record';
import { annotate, createProjectWithTask, createTarget, exportEnv, fileOf, StreamTap, waitFor, type ExportEnv } from './export-helpers';

let env: ExportEnv;
let tap: StreamTap;

beforeAll(async () => {
  env = exportEnv();
  tap = new StreamTap();
  await tap.start();
});

afterAll(() => tap?.destroy());

/** A local-files target of a new directory. */
async function localTarget(projectId: number, name: string, extra: Record<string, unknown> = {}): Promise<StorageItem> {
  const path = join(env.localRoot, `${name}-${projectId}`);
  mkdirSync(path, { recursive: true });
  return createTarget(env, projectId, { type: 'localfiles', role: 'export', path }, extra);
}

/** An S3 target whose bucket does not exist: every write fails (`not_found`). */
async function missingBucketTarget(projectId: number): Promise<StorageItem> {
  const em = inject('emulators');
  return createTarget(env, projectId, {
    type: 's3', role: 'export', bucket: `xp-missing-${projectId}`, s3_endpoint: em.s3.endpoint, region_name: em.s3.region,
    aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey,
  });
}

/** Stream records of the annotations, polled until at least one per annotation arrived. */
async function recordsFor(annotationIds: number[]): Promise<StreamRecordLike[]> {
  const records: StreamRecordLike[] = [];
  await waitFor(async () => {
    records.push(...(await tap.readFor(annotationIds)));
    return records.length >= annotationIds.length ? true : undefined;
  });
  return records;
}

/** Exports the annotations' stream records as one batch. */
async function deliver(annotationIds: number[]) {
  return processAnnotationRecords(env.deps, await recordsFor(annotationIds));
}

async function metaOf(s: StorageItem): Promise<Record<string, unknown>> {
  return (await getStorage(env.db, s.id, { consistent: true }))!.meta;
}

describe('target counters move with the stream export', () => {
  it('annotate → exported counter and last_exported_at, without a sync; delete → removed counter', async () => {
    const { project, taskIds } = await createProjectWithTask(env);
    const target = await localTarget(project.id, 'cnt', { can_delete_objects: true });
    const a = await annotate(env, project.id, taskIds[0]);
    const b = await annotate(env, project.id, taskIds[0]);
    const send = vi.spyOn(env.db.doc, 'send');
    const r = await deliver([a.id, b.id]);
    const counterUpdates = send.mock.calls.filter(([c]) => c instanceof UpdateCommand && c.input.Key?.pk === keys.storage(target.id).pk && /\bADD\b/.test(String(c.input.UpdateExpression)));
    send.mockRestore();
    expect(counterUpdates, 'one counter update for the target in the batch').toHaveLength(1);
    expect(r.failures).toEqual([]);
    expect(await fileOf(target, a.id)).toBeDefined();

    const meta = await metaOf(target);
    expect(meta).toMatchObject({ [M.exported]: 2, [M.removed]: 0, [M.failed]: 0 });
    expect(meta[M.lastExportedAt]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    const stored = (await getStorage(env.db, target.id))!;
    expect({ last_sync: stored.last_sync, last_sync_count: stored.last_sync_count }, 'the last sync run is untouched').toEqual({ last_sync: null, last_sync_count: null });

    await deleteAnnotation(env.db, (await getAnnotation(env.db, a.id))!);
    expect((await deliver([a.id])).failures).toEqual([]);
    expect(await fileOf(target, a.id)).toBeUndefined();
    expect(await metaOf(target)).toMatchObject({ [M.exported]: 2, [M.removed]: 1, [M.failed]: 0 });
  });

  it('a retried batch counts nothing for targets already at that version', async () => {
    const { project, taskIds } = await createProjectWithTask(env);
    const target = await localTarget(project.id, 'retry');
    const a = await annotate(env, project.id, taskIds[0]);
    const records = await recordsFor([a.id]);
    await processAnnotationRecords(env.deps, records);
    await processAnnotationRecords(env.deps, records); // the same batch again, as a retry delivers it
    expect(await metaOf(target)).toMatchObject({ [M.exported]: 1, [M.failed]: 0 });
  });

  it('a failing target counts failed deliveries; the healthy target of the same project counts its exports', async () => {
    const { project, taskIds } = await createProjectWithTask(env);
    const good = await localTarget(project.id, 'ok');
    const bad = await missingBucketTarget(project.id);
    const a = await annotate(env, project.id, taskIds[0]);
    const b = await annotate(env, project.id, taskIds[0]);
    const r = await deliver([a.id, b.id]);
    // A missing bucket is a configuration failure: recorded for the replay, not retried.
    expect(r.failures).toEqual([]);
    expect(r.recorded.length).toBeGreaterThanOrEqual(2);

    const badMeta = await metaOf(bad);
    expect(badMeta).toMatchObject({ [M.exported]: 0, [M.removed]: 0, [M.failed]: 2 });
    expect(badMeta[M.lastExportedAt], 'nothing was delivered there').toBeUndefined();
    expect(badMeta.export_error).toMatchObject({ code: 'not_found' });
    expect(await metaOf(good)).toMatchObject({ [M.exported]: 2, [M.failed]: 0 });
  });

  it('concurrent batches under throttling and transaction conflicts on the storage item lose no count', async () => {
    const { project } = await createProjectWithTask(env);
    const target = await localTarget(project.id, 'strict');
    const em = inject('emulators');
    type Token = { getRetryCount(): number; getRetryDelay(): number };
    const token = (n: number): Token => ({ getRetryCount: () => n, getRetryDelay: () => 5 + Math.random() * 10 });
    // The SDK's retry decisions with short delays, so throttles beyond its attempts reach retryContention quickly.
    const retryStrategy = {
      acquireInitialRetryToken: async () => token(0),
      refreshRetryTokenForRetry: async (t: Token, info: { errorType: string }) => {
        if (!['THROTTLING', 'TRANSIENT'].includes(info.errorType) || t.getRetryCount() + 1 >= SDK_MAX_ATTEMPTS) throw new Error('no retry');
        return token(t.getRetryCount() + 1);
      },
      recordSuccess: () => {},
    };
    const doc = createDocumentClient({ endpoint: em.dynamodb.endpoint, region: em.dynamodb.region, retryStrategy });
    const stats = installStrictMiddleware(doc, { throttleRate: 0.3, holdMs: 40, maxThrottlesPerCall: 6 });
    const db = { doc, table: env.db.table };
    const n = 24;
    // Transactions holding the storage item, as a sync's steps may, while the batches add.
    const holders = Array.from({ length: 6 }, (_, i) =>
      new Promise((r) => setTimeout(r, i * 30)).then(() =>
        doc.send(new TransactWriteCommand({ TransactItems: [{ ConditionCheck: { TableName: db.table, Key: keys.storage(target.id), ConditionExpression: 'attribute_exists(pk)' } }] })).catch(() => undefined),
      ),
    );
    const adds = Array.from({ length: n }, (_, i) =>
      new Promise((r) => setTimeout(r, i * 5)).then(() => addTargetCounts(db, target.id, { exported: 2, removed: 1, failed: 1 }, new Date())),
    );
    expect(await Promise.all(adds)).toEqual(Array(n).fill(true));
    await Promise.all(holders);
    expect(stats.throttled + stats.conflicts, 'the middleware really interfered').toBeGreaterThan(0);
    expect(await metaOf(target)).toMatchObject({ [M.exported]: 2 * n, [M.removed]: n, [M.failed]: n });
  }, 60_000);
});
