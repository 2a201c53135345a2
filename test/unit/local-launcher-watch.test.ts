/**
 * local/launcher-watch.ts: which ancestors of `npm start` count as its launchers, and that the
 * watch reports a watched process that exits (a real child process, killed).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isRunning, launcherKind, launchers, watchLaunchers } from '../../local/launcher-watch';

describe('launcherKind', () => {
  it('recognises npm, its sh -c running tsx, and tsx, and nothing else', () => {
    expect(launcherKind(['npm start'])).toBe('npm');
    expect(launcherKind(['npm exec tsx local/start.ts'])).toBe('npm');
    expect(launcherKind(['node', '/usr/lib/node_modules/npm/bin/npm-cli.js', 'start'])).toBe('npm');
    expect(launcherKind(['sh', '-c', 'tsx local/start.ts'])).toBe('shell');
    expect(launcherKind(['/bin/sh', '-c', 'NODE_OPTIONS=--openssl-legacy-provider tsx local/emulators-cli.ts'])).toBe('shell');
    expect(launcherKind(['node', '/repo/node_modules/.bin/tsx', 'local/start.ts'])).toBe('tsx');
    expect(launcherKind(['sh', '-c', 'make all'])).toBeUndefined();
    expect(launcherKind(['-bash'])).toBeUndefined();
    expect(launcherKind(['/usr/bin/node', '--require', '/repo/node_modules/tsx/dist/preflight.cjs', '--import', 'file:///repo/node_modules/tsx/dist/loader.mjs', 'local/start.ts'])).toBeUndefined();
    expect(launcherKind([])).toBeUndefined();
  });
});

describe.skipIf(!existsSync('/proc/self/stat'))('watchLaunchers', () => {
  it('always watches the parent, identified by its start time', () => {
    const [parent] = launchers();
    expect(parent.pid).toBe(process.ppid);
    expect(parent.startTime).toMatch(/^\d+$/);
    expect(isRunning(parent)).toBe(true);
    expect(isRunning({ pid: parent.pid, startTime: '1' })).toBe(false); // a reused pid is another process
  });

  it('calls back once with the pid of a watched process that exits', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const gone: number[] = [];
    const stop = watchLaunchers((pid) => gone.push(pid), [{ pid: child.pid! }], 20);
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(gone).toEqual([]);
      child.kill('SIGKILL');
      for (const until = Date.now() + 5_000; !gone.length && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      expect(gone).toEqual([child.pid]);
    } finally {
      stop();
      child.kill('SIGKILL');
    }
  });
});
