/**
 * Reliability of the stream export on real emulators: partial batch failures, a target that is
 * down and then fixed (nothing lost, healthy targets not rewritten), wrong credentials reported on
 * the storage without the secret, duplicate and out-of-order records, deletes that a late record
 * cannot undo, and the repair of a write that clobbered a newer version.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reserveIds } from '../../shared/db/counters';
import { createAnnotation, deleteAnnotation, getAnnotation, updateAnnotation } from '../../shared/db/repo-annotations';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../shared/db/keys';
import { getStorage } from '../../shared/db/repo-storages';
import type { AnnotationItem, StorageItem } from '../../shared/db/items';
import { ExportLinkStore } from '../../shared/db/repo-export-links';
import { processAnnotationRecords } from '../../shared/export/process-records';
import { ExportSourceLoader } from '../../shared/export/source';
import { toExportTarget } from '../../shared/export/targets';
import { loadStorageConfig } from '../../shared/api/storages';
import { writeAnnotationToTarget } from '../../shared/export/write-target';
import { exportAnnotationsToTarget } from '../../shared/export/sync';
import type { StorageProvider } from '../../shared/storage/types';
import { freePort } from '../../local/emulators/process';
import { createProjectWithTask, createTarget, exportEnv, StreamTap, targetConfigs, type ExportEnv } from './export-helpers';

let env: ExportEnv;
let tap: StreamTap;

beforeAll(async () => {
  env = exportEnv();
  tap = new StreamTap();
  await tap.start();
});
afterAll(() => tap?.destroy());

async function annotate(projectId: number, taskId: number, result: unknown[] = [{ v: 1 }]): Promise<AnnotationItem> {
  const id = await reserveIds(env.db, 'annotation', 1);
  const now = new Date().toISOString();
  return createAnnotation(env.db, {
    kind: 'annotation', id, taskId, projectId, orgId: 'org-export-test', result, completed_by: 1, ground_truth: false, lead_time: 1,
    was_cancelled: false, version: 1, created_at: now, updated_at: now,
  });
}

const localFile = (s: StorageItem, id: number) => readFile(`${s.fields.path}/${id}`, 'utf8').then((t) => JSON.parse(t) as { result: unknown[] }, () => undefined);

describe('a target that is down', () => {
  it('fails only the records of its annotations, keeps the others written, and catches up once fixed', async () => {
    const p1 = await createProjectWithTask(env);
    const p2 = await createProjectWithTask(env);
    const c1 = await targetConfigs(env, `down-${p1.project.id}`);
    const c2 = await targetConfigs(env, `ok-${p2.project.id}`);
    const deadPort = await freePort(); // nothing listens there: a stopped emulator
    const broken = await createTarget(env, p1.project.id, { ...c1.s3, s3_endpoint: `http://127.0.0.1:${deadPort}` });
    const healthy1 = await createTarget(env, p1.project.id, c1.localfiles);
    const healthy2 = await createTarget(env, p2.project.id, c2.localfiles);

    const x = await annotate(p1.project.id, p1.taskIds[0]);
    const y = await annotate(p2.project.id, p2.taskIds[0]);
    await updateAnnotation(env.db, x.id, { result: [{ v: 2 }] });
    const records = await tap.readFor([x.id, y.id]);
    expect(records.length).toBe(3);

    const first = await processAnnotationRecords(env.deps, records);
    const xSeqs = records.filter((r) => r.dynamodb?.NewImage?.id?.N === String(x.id)).map((r) => r.dynamodb!.SequenceNumber);
    expect(first.failures).toEqual(xSeqs); // first failed record of x and everything after it for x
    expect((await localFile(healthy1, x.id))?.result).toEqual([{ v: 2 }]); // the other target of x is not blocked
    expect((await localFile(healthy2, y.id))?.result).toEqual([{ v: 1 }]);
    const reported = await getStorage(env.db, broken.id);
    expect((reported?.meta.export_error as { code: string; reason: string }).code).toBe('unreachable');
    expect(reported?.traceback).toMatch(/Export of annotations to storage \d+ failed: /);
    // A down target is failing, not completed, and says since when (kept across repeated failures).
    expect(reported?.status).toBe('failed');
    const since = reported?.meta.export_failing_since;
    expect(since).toEqual(expect.any(String));
    await processAnnotationRecords(env.deps, records.filter((r) => first.failures.includes(r.dynamodb!.SequenceNumber!)));
    expect((await getStorage(env.db, broken.id))?.meta.export_failing_since).toBe(since);

    // Fix the endpoint, then the stream retries the failed records.
    await env.db.doc.send(
      new UpdateCommand({
        TableName: env.db.table,
        Key: keys.storage(broken.id),
        UpdateExpression: 'SET #f.s3_endpoint = :e',
        ExpressionAttributeNames: { '#f': 'fields' },
        ExpressionAttributeValues: { ':e': c1.s3.s3_endpoint },
      }),
    );
    const retry = await processAnnotationRecords(env.deps, records.filter((r) => first.failures.includes(r.dynamodb!.SequenceNumber!)));
    expect(retry.failures).toEqual([]);
    expect(retry.outcomes).toMatchObject({ written: 1, up_to_date: 1, failed: 0 }); // only the failed target is rewritten
    const fixed = (await getStorage(env.db, broken.id))!;
    expect(fixed.meta.export_error).toBeUndefined();
    expect(fixed.meta.export_failing_since).toBeUndefined();
    expect({ status: fixed.status, traceback: fixed.traceback }).toEqual({ status: 'completed', traceback: null });
    const config = await loadStorageConfig(fixed, env.secretBox);
    const p = await env.deps.provider(config);
    const body = await p.read(`out/${x.id}`);
    const chunks: Buffer[] = [];
    for await (const ch of body.body) chunks.push(Buffer.from(ch));
    expect(JSON.parse(Buffer.concat(chunks).toString()).result).toEqual([{ v: 2 }]);
  });

  it('records a readable reason without the secret when the credentials are wrong (a failure record, not a retry)', async () => {
    const p = await createProjectWithTask(env);
    const c = await targetConfigs(env, `creds-${p.project.id}`);
    const secret = 'wrong-secret-must-not-leak';
    const bad = await createTarget(env, p.project.id, { ...c.s3, aws_access_key_id: 'AKIAWRONGWRONGWRONG1', aws_secret_access_key: secret });
    const a = await annotate(p.project.id, p.taskIds[0]);
    const r = await processAnnotationRecords(env.deps, await tap.readFor([a.id]));
    expect({ failures: r.failures.length, recorded: r.recorded.length }).toEqual({ failures: 0, recorded: 1 });
    const s = (await getStorage(env.db, bad.id))!;
    expect(s.status).toBe('failed');
    expect((s.meta.export_error as { code: string }).code).toBe('access_denied');
    expect(s.traceback).toMatch(/failed: .+/);
    const shown = JSON.stringify({ meta: s.meta, traceback: s.traceback });
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain('AKIAWRONGWRONGWRONG1');
  });
});

describe('ordering and repetition', () => {
  let projectId: number;
  let taskId: number;
  let target: StorageItem;

  beforeAll(async () => {
    const p = await createProjectWithTask(env);
    projectId = p.project.id;
    taskId = p.taskIds[0];
    target = await createTarget(env, projectId, (await targetConfigs(env, `order-${projectId}`)).localfiles, { can_delete_objects: true });
  });

  it('ends at the newest version whatever the order and repetition of records', async () => {
    const a = await annotate(projectId, taskId, [{ v: 1 }]);
    await updateAnnotation(env.db, a.id, { result: [{ v: 2 }] });
    await updateAnnotation(env.db, a.id, { result: [{ v: 3 }] });
    const recs = await tap.readFor([a.id]);
    expect(recs.length).toBe(3);
    const [v1, v2, v3] = recs;
    let r = await processAnnotationRecords(env.deps, [v3, v1, v2, v1, v3]);
    expect(r.failures).toEqual([]);
    expect((await localFile(target, a.id))?.result).toEqual([{ v: 3 }]);
    // Late, separate deliveries of old records: skipped by the version guard, object unchanged.
    for (const old of [[v1], [v2], [v1, v1]]) {
      r = await processAnnotationRecords(env.deps, old);
      expect(r.outcomes).toMatchObject({ written: 0, up_to_date: 1, failed: 0 });
    }
    expect((await localFile(target, a.id))?.result).toEqual([{ v: 3 }]);
    const link = await env.deps.links.get(target.id, a.id);
    expect(link).toMatchObject({ version: 3, written_version: 3, key: String(a.id) });
  });

  it('never brings a deleted annotation back from a late create or update record', async () => {
    const a = await annotate(projectId, taskId);
    const created = await tap.readFor([a.id]);
    await processAnnotationRecords(env.deps, created);
    expect(await localFile(target, a.id)).toBeDefined();
    await deleteAnnotation(env.db, (await getAnnotation(env.db, a.id))!);
    const removed = await tap.readFor([a.id]);
    expect((await processAnnotationRecords(env.deps, removed)).failures).toEqual([]);
    expect(await localFile(target, a.id)).toBeUndefined();
    // The old INSERT again, alone and after the REMOVE in one batch.
    await processAnnotationRecords(env.deps, created);
    await processAnnotationRecords(env.deps, [...removed, ...created]);
    expect(await localFile(target, a.id)).toBeUndefined();
    // Even a writer holding a stale copy of the annotation is refused by the tombstone.
    const t = await toExportTarget((await getStorage(env.db, target.id))!, (i) => loadStorageConfig(i, env.secretBox));
    const provider = await env.deps.provider(t.config);
    const outcome = await writeAnnotationToTarget(
      { links: env.deps.links, provider, reload: async () => undefined, now: () => new Date() },
      t,
      { annotation: a, task: { id: taskId, data: {} } as never, project: { id: projectId, data_keys: [] } },
    );
    expect(outcome).toBe('deleted');
    expect(await localFile(target, a.id)).toBeUndefined();
    expect((await env.deps.links.get(target.id, a.id))?.deleted_at).toBeTruthy();
  });

  it('repairs a stale write that landed after a newer one', async () => {
    const a = await annotate(projectId, taskId, [{ v: 1 }]);
    const t = await toExportTarget((await getStorage(env.db, target.id))!, (i) => loadStorageConfig(i, env.secretBox));
    const real = await env.deps.provider(t.config);
    const loader = new ExportSourceLoader(env.db);
    const v1 = (await loader.load(a.id))!;
    let interfered = false;
    // Writer A (holding v1) is slow: while its PUT is in flight, writer B saves v2 and exports it.
    const slow: StorageProvider = Object.create(real, {
      write: {
        value: async (key: string, body: string) => {
          if (!interfered) {
            interfered = true;
            await updateAnnotation(env.db, a.id, { result: [{ v: 2 }] });
            const v2 = (await new ExportSourceLoader(env.db).load(a.id))!;
            const b = await writeAnnotationToTarget(
              { links: env.deps.links, provider: real, reload: (id) => new ExportSourceLoader(env.db).load(id), now: () => new Date() },
              t,
              v2,
            );
            expect(b).toBe('written');
          }
          return real.write(key, body); // A's v1 lands last and clobbers v2
        },
      },
    });
    const outcome = await writeAnnotationToTarget(
      { links: new ExportLinkStore(env.db.doc, env.db.table), provider: slow, reload: (id) => new ExportSourceLoader(env.db).load(id), now: () => new Date() },
      t,
      v1,
    );
    expect(interfered).toBe(true);
    expect(outcome).toBe('written');
    expect((await localFile(target, a.id))?.result).toEqual([{ v: 2 }]);
    expect(await env.deps.links.get(target.id, a.id)).toMatchObject({ version: 2, written_version: 2 });
  });

  it('repairs an export-sync write (commit after write) that landed after a newer stream write', async () => {
    const a = await annotate(projectId, taskId, [{ v: 1 }]);
    const t = await toExportTarget((await getStorage(env.db, target.id))!, (i) => loadStorageConfig(i, env.secretBox));
    const real = await env.deps.provider(t.config);
    const fresh = (id: number) => new ExportSourceLoader(env.db).load(id);
    const v1 = (await fresh(a.id))!;
    let interfered = false;
    const slow: StorageProvider = Object.create(real, {
      write: {
        value: async (key: string, body: string) => {
          if (!interfered) {
            interfered = true;
            await updateAnnotation(env.db, a.id, { result: [{ v: 2 }] });
            const b = await writeAnnotationToTarget({ links: env.deps.links, provider: real, reload: fresh, now: () => new Date() }, t, (await fresh(a.id))!);
            expect(b).toBe('written');
          }
          return real.write(key, body);
        },
      },
    });
    expect(v1.annotation.version).toBe(1);
    const r = await exportAnnotationsToTarget(env.db, t, slow, [a.id], { links: env.deps.links });
    expect(interfered).toBe(true);
    expect(r).toMatchObject({ annotations: 1, written: 1, failed: 0 });
    expect((await localFile(target, a.id))?.result).toEqual([{ v: 2 }]);
    expect(await env.deps.links.get(target.id, a.id)).toMatchObject({ version: 2, written_version: 2 });
  });
});
