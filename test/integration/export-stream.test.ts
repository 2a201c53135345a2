/**
 * Stream export end to end on every target type's emulator: annotation changes made through the
 * repositories reach the table's real DynamoDB stream, whose records go to the export Lambda
 * handler exactly as the event source mapping (or the local poller) delivers them.
 * azure_spi runs on Azurite's OAuth/HTTPS mode with an injected token credential, because Azure AD's
 * login host cannot be reached offline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { reserveIds } from '../../shared/db/counters';
import { createAnnotation, deleteAnnotation, getAnnotation, updateAnnotation } from '../../shared/db/repo-annotations';
import type { AnnotationItem, StorageItem } from '../../shared/db/items';
import { exportObjectKey } from '../../shared/export/key';
import { loadStorageConfig } from '../../shared/api/storages';
import { processAnnotationRecords } from '../../shared/export/process-records';
import { createProjectWithTask, createTarget, exportEnv, readObject, StreamTap, targetConfigs, type ExportEnv } from './export-helpers';

const TYPES = ['s3', 'gcs', 'azure', 'azure_spi', 'redis', 'localfiles'] as const;

let env: ExportEnv;
let tap: StreamTap;
let projectId: number;
let taskId: number;
const keep: Record<string, StorageItem> = {};
const del: Record<string, StorageItem> = {};

beforeAll(async () => {
  env = exportEnv();
  tap = new StreamTap();
  const { project, taskIds } = await createProjectWithTask(env);
  projectId = project.id;
  taskId = taskIds[0];
  const configs = await targetConfigs(env, `stream-${projectId}`);
  for (const t of TYPES) {
    keep[t] = await createTarget(env, projectId, configs[t]);
    // The deleting twin writes `<id>.json` under another prefix, so the two never share an object.
    del[t] = await createTarget(
      env,
      projectId,
      { ...configs[t], ...(t === 'localfiles' ? {} : { prefix: 'del' }), ...(t === 'redis' ? { db: 4 } : {}) },
      { can_delete_objects: true, export_key_format: 'id_json' },
    );
  }
  await tap.start();
});

afterAll(() => tap?.destroy());

async function newAnnotation(result: unknown[]): Promise<AnnotationItem> {
  const id = await reserveIds(env.db, 'annotation', 1);
  const now = new Date().toISOString();
  return createAnnotation(env.db, {
    kind: 'annotation', id, taskId, projectId, orgId: 'org-export-test', result, completed_by: 1, ground_truth: false, lead_time: 1,
    was_cancelled: false, version: 1, created_at: now, updated_at: now,
  });
}

async function deliver(annotationIds: number[]) {
  const records = await tap.readFor(annotationIds);
  const { handler } = await import('../../functions/export/stream');
  expect(handler).toBeTypeOf('function');
  // The handler builds its deps from the process context; drive the same use case with the test's deps.
  const r = await processAnnotationRecords(env.deps, records);
  return { records, ...r };
}

async function objectIn(item: StorageItem, annotationId: number): Promise<Record<string, unknown> | undefined> {
  const config = await loadStorageConfig(item, env.secretBox);
  const text = await readObject(await env.providerOf(item), exportObjectKey(config, annotationId));
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

describe('stream export to every target type', () => {
  let a: AnnotationItem;

  it('writes a created annotation to every target as LS JSON with its task nested', async () => {
    a = await newAnnotation([{ from_name: 'img', value: { x: 1 } }]);
    const r = await deliver([a.id]);
    expect(r.records.length).toBeGreaterThanOrEqual(1);
    expect(r.failures).toEqual([]);
    expect(r.outcomes.written).toBe(TYPES.length * 2);
    for (const t of TYPES) {
      for (const s of [keep[t], del[t]]) {
        const doc = await objectIn(s, a.id);
        expect(doc, `${t} #${s.id}`).toBeDefined();
        expect(doc).toMatchObject({ id: a.id, result: [{ from_name: 'img', value: { x: 1 } }], project: projectId });
        expect(doc!.task).toMatchObject({ id: taskId, data: { image: 's3://media/0.png' } });
      }
    }
  });

  it('uses LS keys: <prefix>/<id> without extension, <id>.json with id_json, join(path, id) for local files', async () => {
    const cfg = await loadStorageConfig(keep.s3, env.secretBox);
    expect(exportObjectKey(cfg, a.id)).toBe(`out/${a.id}`);
    expect(exportObjectKey(await loadStorageConfig(del.gcs, env.secretBox), a.id)).toBe(`del/${a.id}.json`);
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(`${keep.localfiles.fields.path}/${a.id}`, 'utf8');
    expect(text.startsWith('{\n  "id": ')).toBe(true); // pretty-printed with indent 2
  });

  it('overwrites the object with the new version on update', async () => {
    await updateAnnotation(env.db, a.id, { result: [{ from_name: 'img', value: { x: 2 } }] });
    const r = await deliver([a.id]);
    expect(r.failures).toEqual([]);
    for (const t of TYPES) {
      expect((await objectIn(keep[t], a.id))?.result, t).toEqual([{ from_name: 'img', value: { x: 2 } }]);
    }
  });

  it('deletes the object only where can_delete_objects is true', async () => {
    const current = (await getAnnotation(env.db, a.id))!;
    await deleteAnnotation(env.db, current);
    const r = await deliver([a.id]);
    expect(r.failures).toEqual([]);
    for (const t of TYPES) {
      expect(await objectIn(keep[t], a.id), `${t} keeps`).toBeDefined();
      expect(await objectIn(del[t], a.id), `${t} deletes`).toBeUndefined();
    }
  });

  it('answers the Lambda contract with batchItemFailures', async () => {
    const { handler } = await import('../../functions/export/stream');
    const out = await handler({ Records: [] } as DynamoDBStreamEvent);
    expect(out).toEqual({ batchItemFailures: [] });
  });
});
