/**
 * `npm start` as a process tree (npm → sh → tsx → runtime → DynamoDB Local JVM) and what stopping
 * it does: a stale JVM left on the data dir is stopped by the next start, SIGKILL of the runtime
 * leaves no JVM behind for the next start to double, and SIGTERM to npm alone (what `timeout`,
 * systemd or a container runtime send) or SIGHUP (a closed terminal) stops every process of the
 * data dir. The state machine is
 * ready when /health answers, so the first sync does not wait for it. Linux only: processes are
 * found through /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandLine, isRunning } from '../../local/launcher-watch';
import { commandWorks, freePort } from '../../local/emulators/process';

const linux = existsSync('/proc/self/cmdline');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** pids whose command line mentions `text`. */
async function pidsMentioning(text: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
  return pids.filter((pid) => pid !== process.pid && commandLine(pid).some((a) => a.includes(text)) && isRunning({ pid }));
}

const jvmsOn = async (dataDir: string) => (await pidsMentioning(dataDir)).filter((pid) => commandLine(pid).some((a) => a.endsWith('DynamoDBLocal.jar')));

interface Started {
  npm: ChildProcess;
  output: () => string;
  exited: () => boolean;
}

let dataDir = '';
const spawned: ChildProcess[] = [];
afterAll(async () => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) process.kill(-p.pid!, 'SIGKILL');
  if (dataDir) for (const pid of await pidsMentioning(dataDir)) process.kill(pid, 'SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function npmStart(env: Record<string, string>): Started {
  let out = '';
  // Own process group (so afterAll can clean up), but signals in the test go to single pids.
  const npm = spawn('npm', ['start'], { cwd: process.cwd(), env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.push(npm);
  npm.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  npm.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  let exited = false;
  npm.on('exit', () => (exited = true));
  return { npm, output: () => out, exited: () => exited };
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })).status === 200;
  } catch {
    return false;
  }
}

/** A DynamoDB Local on the data dir that no runtime owns (as a runtime killed without setpriv leaves it). */
function strayJvm(dbPath: string, port: number): ChildProcess {
  const dir = join(dirname(createRequire(import.meta.url).resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
  // C1-only JIT, as the runtime's own: the stray competes for the cores while the start stops it.
  const java = spawn('java', ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-jar', join(dir, 'DynamoDBLocal.jar'), '-sharedDb', '-port', String(port), '-dbPath', dbPath], { cwd: dir, detached: true, stdio: 'ignore' });
  spawned.push(java);
  return java;
}

async function api(url: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${url}${path}`, { method, headers: { authorization: `Token ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return r.json();
}

/** Creates a one-file local-files storage, syncs it and returns how long the sync took. */
async function oneFileSync(url: string, dataDir: string, root: string): Promise<number> {
  const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim();
  const project = await api(url, token, 'POST', '/api/projects/', { title: 'first sync' });
  const storage = await api(url, token, 'POST', '/api/storages/localfiles/', { project: project.id, path: join(root, 'in'), use_blob_urls: false });
  expect(storage.id, JSON.stringify(storage)).toBeTypeOf('number');
  const t0 = Date.now();
  await api(url, token, 'POST', `/api/storages/localfiles/${storage.id}/sync`);
  let last: any;
  const done = await until('sync done', async () => {
    last = await api(url, token, 'GET', `/api/storages/localfiles/${storage.id}`);
    return ['completed', 'failed', 'completed_with_errors'].includes(last.status) ? last : undefined;
  }, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(last)}`);
  });
  expect(done.status).toBe('completed');
  return Date.now() - t0;
}

/** The runtime's pid from the runtime.json it writes just after it starts listening. */
const runtimePidOf = () =>
  until('runtime.json', () => readFile(join(dataDir, 'data', 'runtime.json'), 'utf8').then((t) => (JSON.parse(t) as { pid: number }).pid).catch(() => undefined), 10_000);

async function stopsOn(app: Started, signal: NodeJS.Signals, url: string): Promise<void> {
  const runtimePid = await runtimePidOf();
  process.kill(app.npm.pid!, signal);
  await until(`runtime stopped after ${signal} to npm`, () => !isRunning({ pid: runtimePid }), 15_000);
  expect(await healthy(url)).toBe(false);
  expect(await pidsMentioning(dataDir)).toEqual([]);
  // Printed before the runtime exited; the pipe may deliver it a moment later.
  await until(`"stopped" after ${signal}`, () => /^stopped$/m.test(app.output()), 5_000);
}

describe.skipIf(!linux)('npm start as a process tree', () => {
  it('stops a stale JVM, leaves none after SIGKILL of the runtime, and stops everything on SIGTERM or SIGHUP to npm', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'labelsync-proc-'));
    const root = join(dataDir, 'files');
    await mkdir(join(root, 'in'), { recursive: true });
    await writeFile(join(root, 'in', 't1.json'), JSON.stringify({ text: 'one' }));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      PORT: String(port),
      LABELSYNC_DATA_DIR: join(dataDir, 'data'),
      LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true',
      LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: root,
    };
    const dbPath = join(dataDir, 'data', 'dynamodb');
    await mkdir(dbPath, { recursive: true });
    const stray = strayJvm(dbPath, await freePort());

    // 1. The start stops the stray JVM and runs exactly one of its own; the state machine is ready with /health.
    const first = npmStart(env);
    const t0 = Date.now();
    await until('first /health', () => healthy(url), 60_000);
    console.log(`[local-process] first start: /health after ${Date.now() - t0} ms`);
    expect(existsSync(join(dataDir, 'data', 'state-machine.json'))).toBe(true);
    expect(first.output()).toContain(`stale DynamoDB Local (pid ${stray.pid})`);
    expect(isRunning({ pid: stray.pid! })).toBe(false);
    const [jvm1, ...more1] = await jvmsOn(dataDir);
    expect(more1).toEqual([]);
    const syncMs = await oneFileSync(url, env.LABELSYNC_DATA_DIR, root).catch((e: Error) => {
      throw new Error(`${e.message}\n${first.output()}`);
    });
    console.log(`[local-process] one-file sync right after /health: ${syncMs} ms`);

    // 2. SIGKILL of the runtime: npm and the JVM go with it, and the next start runs one JVM.
    process.kill(await runtimePidOf(), 'SIGKILL');
    await until('npm exits after its runtime died', first.exited, 10_000);
    // With setpriv the kernel stops the JVM with its runtime; without, the next start does (step 1).
    if (await commandWorks('setpriv', ['--version'])) await until('JVM exits with its runtime', async () => (await jvmsOn(dataDir)).length === 0, 15_000);
    const second = npmStart(env);
    await until('second /health', () => healthy(url), 60_000);
    const jvms = await jvmsOn(dataDir);
    expect(jvms).toHaveLength(1);
    expect(jvms[0]).not.toBe(jvm1);

    // 3. SIGTERM to the npm process alone (npm forwards it), then SIGHUP (npm dies of it): /health
    // stops answering and no process of the data dir remains.
    await stopsOn(second, 'SIGTERM', url);
    const third = npmStart(env);
    await until('third /health', () => healthy(url), 60_000);
    await stopsOn(third, 'SIGHUP', url);
  }, 150_000);
});
