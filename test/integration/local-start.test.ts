/**
 * `npm start` as a user runs it: `npx tsx local/start.ts` in a child process with a fresh data dir
 * and free ports. It must answer /health within 30 s, stop everything on Ctrl-C (SIGINT to the
 * process group, as a terminal sends it), and a second start must find the first one's data.
 * This test starts its own DynamoDB Local (that is what `npm start` does), not the global one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

interface Started {
  child: ChildProcess;
  output: () => string;
  /** Exit code, or the signal that ended the process. */
  exited: Promise<number | string | null>;
}

function startApp(env: Record<string, string>): Started {
  let out = '';
  const child = spawn('npx', ['tsx', 'local/start.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    detached: true, // own process group, so SIGINT reaches npx, tsx and node like a terminal's Ctrl-C
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return { child, output: () => out, exited };
}

async function waitForHealth(url: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (r.status === 200) return Date.now() - t0;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no 200 from ${url}/health within ${timeoutMs} ms`);
}

async function portAnswers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Ctrl-C: SIGINT to the whole process group. npm exec itself dies of the signal at once; the app
 * (its grandchild) stops what it started and prints "stopped", which is what this waits for.
 */
async function interrupt(app: Started): Promise<void> {
  process.kill(-app.child.pid!, 'SIGINT');
  const until = Date.now() + 25_000;
  while (!/^stopped$/m.test(app.output())) {
    if (Date.now() > until) {
      try {
        process.kill(-app.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      throw new Error(`npm start did not stop within 25 s of SIGINT:\n${app.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const code = await app.exited;
  expect([0, 'SIGINT']).toContain(code);
}

const running: Started[] = [];
let dataDir = '';
afterAll(async () => {
  for (const app of running) if (app.child.exitCode === null && app.child.signalCode === null) process.kill(-app.child.pid!, 'SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('answers /health within 30 s, stops on Ctrl-C, and a second start reuses the data', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'labelsync-start-'));
    const port = await freePort();
    const ddbPort = await freePort();
    const env = { PORT: String(port), HOST: '127.0.0.1', LABELSYNC_DATA_DIR: dataDir, LABELSYNC_DYNAMODB_PORT: String(ddbPort) };
    const url = `http://127.0.0.1:${port}`;

    const first = startApp(env);
    running.push(first);
    const readyMs = await waitForHealth(url, 30_000);
    console.log(`[local-start] first start: /health 200 after ${readyMs} ms`);
    const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim();
    // /health answers as soon as the server listens; the banner with the token is printed right
    // after, and its pipe chunk may arrive a moment later on a loaded machine.
    for (const until = Date.now() + 10_000; !first.output().includes(token) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
    expect(first.output()).toContain(token);
    const auth = { authorization: `Token ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`${url}/api/projects/`, { method: 'POST', headers: auth, body: JSON.stringify({ title: 'survives restart' }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };

    // The state machine is built during the start (a sync right after /health does not wait) and cached.
    expect(existsSync(join(dataDir, 'state-machine.json'))).toBe(true);
    await interrupt(first);
    expect(await portAnswers(port)).toBe(false);
    expect(await portAnswers(ddbPort)).toBe(false); // DynamoDB Local stopped with it

    const second = startApp(env);
    running.push(second);
    const againMs = await waitForHealth(url, 30_000);
    console.log(`[local-start] second start: /health 200 after ${againMs} ms`);
    expect(second.output()).not.toContain('(new;');
    // Logged before /health answered; the pipe may deliver it a moment after the response.
    const until2 = Date.now() + 5_000;
    while (!second.output().includes('state machine ready') && Date.now() < until2) await new Promise((r) => setTimeout(r, 100));
    const cachedMs = Number(/state machine ready \((\d+) ms\)/.exec(second.output())?.[1]);
    console.log(`[local-start] state machine from cache in ${cachedMs} ms`);
    expect(cachedMs).toBeLessThan(5_000);
    const got = await fetch(`${url}/api/projects/${id}`, { headers: auth });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { title: string }).title).toBe('survives restart');
    await interrupt(second);
  }, 180_000);
});
