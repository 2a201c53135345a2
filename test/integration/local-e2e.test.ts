/**
 * The production path of the local runtime, end to end with the real handlers: the storages
 * handler starts a sync through the installed LocalSyncStarter, the synthesized state machine
 * (synthesized in a child process, as `npm start` does) runs syncStart/List/Chunk/Finalize, and an
 * annotation saved through the API reaches a local-files target through the stream poller and the
 * export handler. Local files only: no other emulator is needed for this path.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRuntime, type LabelsyncRuntime } from '../../local/runtime';
import { runtimeApi } from './runtime-client';

let runtime: LabelsyncRuntime;
let dir: string;
let root: string;
const saved: Record<string, string | undefined> = {};

const api = runtimeApi(() => runtime);

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'labelsync-local-e2e-'));
  root = join(dir, 'files');
  await mkdir(join(root, 'in'), { recursive: true });
  await mkdir(join(root, 'out'), { recursive: true });
  for (let i = 1; i <= 3; i++) await writeFile(join(root, 'in', `t${i}.json`), JSON.stringify({ text: `hello ${i}` }));
  for (const k of ['LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED', 'LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT']) saved[k] = process.env[k];
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  runtime = await startRuntime({
    port: 0,
    dataDir: join(dir, 'data'),
    dynamodbEndpoint: inject('emulators').dynamodb.endpoint,
    tableName: inject('tableName'),
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

describe('local runtime end to end with the real handlers', () => {
  it("arms a storage's sync_schedule on the runtime's timer when it is set and disarms it when cleared", async () => {
    const pid = (await api('POST', '/api/projects/', { title: 'scheduled' })).json.id as number;
    const created = await api('POST', '/api/storages/localfiles/', { project: pid, path: join(root, 'in'), sync_schedule: 'rate(1 day)' });
    expect(created.status).toBe(201);
    const id = created.json.id as number;
    const next = runtime.syncSchedules.nextFireOf(id);
    expect(next!.getTime() - Date.now()).toBeGreaterThan(23 * 3_600_000);
    expect((await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: 'cron(0 6 ? * MON-FRI *)' })).status).toBe(200);
    expect(runtime.syncSchedules.nextFireOf(id)!.getUTCHours()).toBe(6);
    expect((await api('PATCH', `/api/storages/localfiles/${id}`, { sync_schedule: null })).status).toBe(200);
    expect(runtime.syncSchedules.nextFireOf(id)).toBeUndefined();
  });

  it('syncs a local-files source through the local state machine and exports saved annotations to a local-files target', async () => {
    const project = await api('POST', '/api/projects/', { title: 'local e2e', label_config: '<View><Text name="t" value="$text"/></View>' });
    expect(project.status).toBe(201);
    const pid = project.json.id as number;

    const source = await api('POST', '/api/storages/localfiles/', { project: pid, path: join(root, 'in'), regex_filter: '.*\\.json', use_blob_urls: false });
    expect(source.status).toBe(201);
    const sync = await api('POST', `/api/storages/localfiles/${source.json.id}/sync`);
    expect(sync.status).toBe(200);
    const done = await waitFor(async () => {
      const s = await api('GET', `/api/storages/localfiles/${source.json.id}`);
      return ['completed', 'failed', 'completed_with_errors'].includes(s.json.status) ? s.json : undefined;
    }, 90_000);
    expect(done).toMatchObject({ status: 'completed', last_sync_count: 3 });
    expect(done.meta).toMatchObject({ objects_listed: 3, objects_total: 3, percent: 100, eta_seconds: 0 });
    // Finalize writes the storage's status before the execution itself ends: wait for the execution.
    const execution = await waitFor(async () => {
      const e = runtime.syncStarter.get(`${source.json.id}-${done.last_sync_job}`);
      return e && e.status !== 'RUNNING' ? e : undefined;
    }, 30_000);
    expect(execution?.status).toBe('SUCCEEDED');
    const tasks = await api('GET', `/api/tasks?project=${pid}`);
    const texts = (tasks.json.tasks ?? tasks.json.results ?? tasks.json).map((t: any) => t.data.text).sort();
    expect(texts).toEqual(['hello 1', 'hello 2', 'hello 3']);

    const target = await api('POST', '/api/storages/export/localfiles', { project: pid, path: join(root, 'out') });
    expect(target.status).toBe(201);
    const [first, second] = (tasks.json.tasks ?? tasks.json.results ?? tasks.json).map((t: any) => t.id as number);
    const annotate = async (taskId: number) => {
      const ann = await api('POST', `/api/tasks/${taskId}/annotations/`, { result: [{ from_name: 't', to_name: 't', type: 'textarea', value: { text: ['x'] } }] });
      expect(ann.status).toBe(201);
      const t0 = Date.now(); // saved: the latency goal runs from here
      const file = await waitFor(async () => {
        const names = await readdir(join(root, 'out'));
        return names.includes(String(ann.json.id)) ? join(root, 'out', String(ann.json.id)) : undefined;
      }, 15_000);
      return { ann, file, latency: Date.now() - t0 };
    };
    // The first export also loads the export storage's provider; the goal is about steady state.
    await annotate(first);
    const { ann, file, latency } = await annotate(second);
    // Measured 231–580 ms alone. Not asserted tightly here: in a full run, other tests' records on
    // the shared table that the real export handler rejects hold the shard for their retries (as in
    // AWS); the poller's own latency is asserted in local-stream.test.ts.
    console.log(`[local-e2e] annotation → local target in ${latency} ms`);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ id: ann.json.id, result: [{ value: { text: ['x'] } }] });
  }, 150_000);
});

describe('Label Studio SDK requests over the local HTTP server', () => {
  // The SDK's paths carry a trailing slash; these go through the same HTTP server `npm start` runs.
  it('tasks.create, tasks.update, resolve_uri=false, tasks.delete_all_tasks, and a failed connection check under non_field_errors', async () => {
    const project = await api('POST', '/api/projects/', { title: 'sdk over http', label_config: '<View><Image name="i" value="$image"/></View>' });
    const pid = project.json.id as number;
    const created = await api('POST', '/api/tasks/', { project: pid, data: { image: 's3://sdk-bucket/1.jpg' }, meta: { a: 1 } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ project: pid, data: { image: 's3://sdk-bucket/1.jpg' }, meta: { a: 1 } });
    const patched = await api('PATCH', `/api/tasks/${created.json.id}/`, { meta: { b: 2 } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ data: { image: 's3://sdk-bucket/1.jpg' }, meta: { b: 2 } });
    const raw = await api('GET', `/api/tasks/?project=${pid}&resolve_uri=false`);
    expect(raw.json.tasks.map((t: any) => t.data)).toEqual([{ image: 's3://sdk-bucket/1.jpg' }]);
    expect((await api('GET', `/api/tasks/${created.json.id}/?resolve_uri=maybe`)).status).toBe(400);

    const missing = await api('POST', '/api/storages/localfiles/validate', { project: pid, path: join(root, 'no-such-dir') });
    expect(missing.status).toBe(400);
    expect(Object.keys(missing.json.validation_errors)).toEqual(['non_field_errors']);

    const cleared = await fetch(`${runtime.url}/api/projects/${pid}/tasks/`, { method: 'DELETE', headers: { authorization: `Token ${runtime.token}` } });
    expect(cleared.status).toBe(204);
    expect((await api('GET', `/api/tasks/?project=${pid}`)).json.tasks).toEqual([]);
  }, 60_000);
});
