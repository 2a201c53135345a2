/**
 * Shared plumbing for emulator launchers: free ports, bounded readiness waits and child
 * processes that die with us (killed by PID on stop and on process exit, never by name).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import net from 'node:net';

/** Asks the kernel for a free TCP port on 127.0.0.1 (a tiny race with other binders is accepted). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it resolves true, or throws after `timeoutMs` naming the service.
 * `failed()` lets the caller abort early (e.g. the child process already exited).
 */
export async function waitUntil(
  name: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; failed?: () => string | undefined } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    const why = opts.failed?.();
    if (why) throw new Error(`${name} failed to start: ${why}`);
    try {
      if (await probe()) return;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await sleep(opts.intervalMs ?? 100);
  }
  throw new Error(`${name} did not answer within ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}`);
}

/** Resolves true once an HTTP(S) server answers anything (any status) at `url`. */
export async function httpAnswers(url: string, init: RequestInit = {}): Promise<boolean> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return true;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL by PID is.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** A spawned emulator process with its output tail (for error messages) and a clean stop. */
export interface ManagedProcess {
  child: ChildProcess;
  /** Set once the process exited; describes code/signal and the last output lines. */
  exited(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `cmd args` tracked for cleanup; keeps the last ~4 KiB of stdout+stderr. */
export function spawnManaged(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): ManagedProcess {
  installExitHook();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  live.add(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4096);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exitInfo: string | undefined;
  let spawnError: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = `${name} exited (code ${code}, signal ${signal})${tail ? `: ${tail.trim().slice(-1500)}` : ''}`;
      live.delete(child);
      resolve();
    });
    child.once('error', (err) => {
      spawnError = `${name} could not be spawned: ${err.message}`;
      live.delete(child);
      resolve();
    });
  });
  return {
    child,
    exited: () => spawnError ?? exitInfo,
    async stop(graceMs = 3_000) {
      if (exitInfo || spawnError || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Checks that `cmd` runs (`cmd --version`-style probe); returns false when it is not installed. */
export function commandWorks(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}
