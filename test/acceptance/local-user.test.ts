/**
 * Acceptance checks from a local user's seat: `npm start`'s runtime (startRuntime on the global
 * setup's DynamoDB Local) driven over HTTP, plus the repository contract the runtime's resume of
 * interrupted syncs relies on. Each test pins a bug found by driving a fresh clone by hand:
 * - a task flagged by `sync_deletions: "flag"` showed no flag in the API (object_exists missing);
 * - a sync interrupted by Ctrl-C and resumed from its first state duplicated tasks and counted
 *   done chunks twice, because re-listing overwrote the chunk items (id plans, done marks);
 * - a second `npm start` on the same data directory ran a second DynamoDB Local on the same files.
 */
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRuntime, type LabelsyncRuntime } from '../../local/runtime';
import { processApp } from '../../shared/process-app';
import { addChunkPlan, completeChunk, getChunk, putChunks, type ChunkEntry } from '../../shared/db/repo-chunks';
import { runtimeApi } from '../integration/runtime-client';

let runtime: LabelsyncRuntime;
let dir: string;
let root: string;
const saved: Record<string, string | undefined> = {};

const api = runtimeApi(() => runtime);

async function syncToEnd(type: string, id: number): Promise<any> {
  const r = await api('POST', `/api/storages/${type}/${id}/sync`);
  expect(r.status).toBe(200);
  const until = Date.now() + 90_000;
  for (;;) {
    const s = await api('GET', `/api/storages/${type}/${id}`);
    if (s.json.last_sync_job === r.json.last_sync_job && ['completed', 'completed_with_errors', 'failed'].includes(s.json.status)) return s.json;
    if (Date.now() > until) throw new Error(`sync of ${type}/${id} did not finish: ${JSON.stringify(s.json)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'labelsync-acceptance-'));
  root = join(dir, 'files');
  await mkdir(join(root, 'in'), { recursive: true });
  for (const k of ['LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED', 'LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT']) saved[k] = process.env[k];
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  runtime = await startRuntime({
    port: 0,
    dataDir: join(dir, 'data'),
    dynamodbEndpoint: inject('emulators').dynamodb.endpoint,
    tableName: inject('tableName'),
    stream: false,
    preloadStateMachine: true,
    log: () => {},
  });
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await rm(dir, { recursive: true, force: true });
});

describe('acceptance: a local user of npm start', () => {
  it('sees object_exists=false on the tasks of a deleted object after a sync with sync_deletions "flag", true on the others', async () => {
    const project = await api('POST', '/api/projects', { title: 'acceptance flag', label_config: '<View><Text name="t" value="$text"/></View>' });
    expect(project.status).toBe(201);
    const src = join(root, 'in', `flag-${randomUUID().slice(0, 8)}`);
    await mkdir(src);
    await writeFile(join(src, 'keep.json'), JSON.stringify({ text: 'stays' }));
    await writeFile(join(src, 'gone.json'), JSON.stringify([{ text: 'goes 1' }, { text: 'goes 2' }]));
    const storage = await api('POST', '/api/storages/localfiles', { project: project.json.id, path: src, sync_deletions: 'flag' });
    expect(storage.status).toBe(201);
    expect((await syncToEnd('localfiles', storage.json.id)).status).toBe('completed');

    const before = await api('GET', `/api/tasks?project=${project.json.id}`);
    expect(before.json.tasks.map((t: any) => t.object_exists)).toEqual([true, true, true]);

    await unlink(join(src, 'gone.json'));
    const after = await syncToEnd('localfiles', storage.json.id);
    expect(after.meta.tasks_flagged).toBe(2);
    const tasks = (await api('GET', `/api/tasks?project=${project.json.id}`)).json.tasks as any[];
    const byFile = Object.fromEntries(['keep.json', 'gone.json'].map((f) => [f, tasks.filter((t) => t.storage_filename === f).map((t) => t.object_exists)]));
    expect(byFile).toEqual({ 'keep.json': [true], 'gone.json': [false, false] });
    const one = await api('GET', `/api/tasks/${tasks.find((t) => t.storage_filename === 'gone.json').id}`);
    expect(one.json.object_exists).toBe(false);
  });

  it('a second runtime on the same data directory is refused, naming the running one (two DynamoDB Locals on one set of files)', async () => {
    const second = startRuntime({ port: 0, dataDir: join(dir, 'data'), tableName: inject('tableName'), stream: false, log: () => {} });
    await expect(second).rejects.toThrow(`another labelsync runtime (pid ${process.pid}, ${runtime.url}) is using the data directory ${join(dir, 'data')}`);
    expect((await fetch(`${runtime.url}/health`)).status).toBe(200);
  });

  it('re-listing a chunk of an interrupted job (resume from the first state) keeps its id plans, and keeps it done only when its content is unchanged', async () => {
    const { db } = processApp();
    const jobId = `acceptance-${randomUUID()}`;
    const entries: ChunkEntry[] = [{ k: 'a.json', e: '"1"', s: 10 }, { k: 'b.json', e: '"2"', s: 20 }];
    const chunk = { jobId, n: 0, entries, from: null, to: 'b.json', ordered: true };
    await putChunks(db, [chunk]);
    expect(await addChunkPlan(db, jobId, 0, 0, { objects: { 'a.json': [500, 1, 0, 0], 'b.json': [501, 1, 0, 0] } })).toBe(true);

    // Interrupted before the chunk completed: the re-listed chunk keeps the plan (same task ids).
    await putChunks(db, [{ ...chunk, entries: entries.map((e) => ({ ...e })) }]);
    let stored = await getChunk(db, jobId, 0);
    expect(stored?.plan0).toEqual({ objects: { 'a.json': [500, 1, 0, 0], 'b.json': [501, 1, 0, 0] } });
    expect(stored?.done).toBeUndefined();

    // Completed, then re-listed with the same content: stays done (its counters are not added twice).
    expect(await completeChunk(db, jobId, 0, { processed: 2 })).toBe(true);
    await putChunks(db, [{ ...chunk }]);
    stored = await getChunk(db, jobId, 0);
    expect(stored?.done).toBe(true);
    expect(stored?.plan0).toBeDefined();

    // Re-listed with different content (the object changed meanwhile): processed again, plan kept.
    await putChunks(db, [{ ...chunk, entries: [entries[0], { ...entries[1], e: '"3"' }] }]);
    stored = await getChunk(db, jobId, 0);
    expect(stored?.done).toBeUndefined();
    expect(stored?.plan0?.objects['b.json']).toEqual([501, 1, 0, 0]);
    expect(stored?.entries[1].e).toBe('"3"');
  });
});
