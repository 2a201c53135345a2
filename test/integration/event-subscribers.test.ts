/**
 * `npm start`'s event subscribers (local/event-subscribers.ts) on real backends: the local-files
 * watcher (node:fs watch) and Redis keyspace notifications on the test setup's redis-server.
 * Storages are created through the storages API, which maintains the routing items the
 * subscribers follow; tasks are polled for with generous deadlines (no timing assertions).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { startEventSubscribers, type EventSubscribers } from '../../local/event-subscribers';
import { processApp } from '../../shared/process-app';
import { client, type ApiHandler } from './api-harness';
import { emulators, newProject, startSyncHarness, stopSyncHarness, tasksOf, type SyncHarness } from './sync-helpers';

let h: SyncHarness;
let api: ReturnType<typeof client>;
let subs: EventSubscribers;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 50 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
  subs = startEventSubscribers({ app: processApp, log: () => {}, refreshMs: 200, debounceMs: 50, maxWaitMs: 300 });
}, 120_000);

afterAll(async () => {
  await subs?.stop();
  await stopSyncHarness(h);
});

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await probe();
  while (!ok(v)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
    v = await probe();
  }
  return v;
}

const images = async (projectId: number) => (await tasksOf(projectId)).map((t) => String(t.data.image)).sort();

describe('local files watcher', () => {
  it('new, changed and removed files reach the tasks by themselves; deleting the storage stops the watcher', async () => {
    const dir = join(h.root, `watch-${Date.now()}`);
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const projectId = await newProject(h.orgId);
    const r = await api('POST', '/api/storages/localfiles', { project: projectId, path: dir, recursive_scan: true, event_sync: true, sync_deletions: 'remove' });
    expect(r.status).toBe(201);
    const id = r.json.id as number;
    await until('the watcher', async () => subs.subscribed(), (ids) => ids.includes(id));
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ image: 'a' }));
    writeFileSync(join(dir, 'sub', 'b.json'), JSON.stringify({ image: 'b' }));
    await until('two tasks', () => images(projectId), (v) => v.join() === 'a,b');
    // A directory made after the watch started is followed too, with what is already in it.
    mkdirSync(join(dir, 'new', 'deep'), { recursive: true });
    writeFileSync(join(dir, 'new', 'deep', 'd.json'), JSON.stringify({ image: 'd' }));
    await until('the new directory', () => images(projectId), (v) => v.join() === 'a,b,d');
    writeFileSync(join(dir, 'new', 'e.json'), JSON.stringify({ image: 'e' }));
    await until('a file in it', () => images(projectId), (v) => v.join() === 'a,b,d,e');
    rmSync(join(dir, 'a.json'));
    await until('a removed', () => images(projectId), (v) => v.join() === 'b,d,e');
    expect(await api('DELETE', `/api/storages/localfiles/${id}`)).toMatchObject({ status: 204 });
    await until('the watcher to stop', async () => subs.subscribed(), (ids) => !ids.includes(id));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ image: 'c' }));
    // Nothing follows the storage any more: give a flush time to (not) happen.
    await new Promise((res) => setTimeout(res, 800));
    expect(await images(projectId)).toEqual(['b', 'd', 'e']);
  });
});

describe('redis keyspace notifications', () => {
  let r: Redis;
  let original: string | undefined;
  let configurable = false;

  beforeAll(async () => {
    const { host, port } = emulators().redis;
    r = new Redis({ host, port, db: 1, lazyConnect: true });
    await r.connect();
    try {
      original = String(((await r.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '');
      configurable = true;
    } catch {
      configurable = false;
    }
  });

  afterAll(async () => {
    if (configurable && original !== undefined) await r.config('SET', 'notify-keyspace-events', original);
    r?.disconnect();
  });

  const body = (projectId: number, path: string) => {
    const { host, port } = emulators().redis;
    return { project: projectId, host, port, db: 1, path, event_sync: true, sync_deletions: 'remove' };
  };

  it('refuses event_sync while the server does not notify, naming notify-keyspace-events', async (ctx) => {
    if (!configurable) ctx.skip('the test redis-server refuses CONFIG');
    await r.config('SET', 'notify-keyspace-events', '');
    const projectId = await newProject(h.orgId);
    const res = await api('POST', '/api/storages/redis', body(projectId, 'off:'));
    expect(res.status).toBe(400);
    expect(res.json.validation_errors.event_sync[0]).toMatch(/notify-keyspace-events/);
  });

  it('SET and DEL of keys under the path become and remove tasks', async (ctx) => {
    if (!configurable) ctx.skip('the test redis-server refuses CONFIG');
    await r.config('SET', 'notify-keyspace-events', 'K$gx');
    const path = `ks${Date.now()}:`;
    const projectId = await newProject(h.orgId);
    const res = await api('POST', '/api/storages/redis', body(projectId, path));
    expect(res.status).toBe(201);
    const id = res.json.id as number;
    await until('the subscriber', async () => subs.subscribed(), (ids) => ids.includes(id));
    await r.set(`${path}1`, JSON.stringify({ image: 'r1' }));
    await r.set(`${path}2`, JSON.stringify({ image: 'r2' }));
    await r.set('elsewhere:1', JSON.stringify({ image: 'no' }));
    await until('two tasks', () => images(projectId), (v) => v.join() === 'r1,r2');
    await r.del(`${path}1`);
    await until('r1 removed', () => images(projectId), (v) => v.join() === 'r2');
    await api('DELETE', `/api/storages/redis/${id}`);
  });
});
