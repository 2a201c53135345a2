/**
 * Notices when the processes that launched `npm start` are gone. Between the terminal (or
 * `timeout`, systemd, a container runtime) and the runtime sit npm, its `sh -c` and tsx: npm
 * answers SIGTERM by signalling `sh`, which dies without passing it on, and SIGHUP kills tsx
 * outright, so without this the runtime would live on as an orphan still answering /health.
 * Linux has no portable "parent died" signal for Node, so the launchers' pids are polled.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** A process identified by pid and start time (a pid alone may be reused after the process exits). */
export interface ProcessId {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22); undefined without /proc. */
  startTime?: string;
}

/** Parent pid and start time of `pid` from /proc, or undefined (no such process, or no /proc). */
function procStat(pid: number): { state: string; ppid: number; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is parenthesised and may contain spaces: split after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), startTime: fields[19] };
  } catch {
    return undefined;
  }
}

/** argv of `pid` from /proc (empty when unreadable). */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * npm (its process title is `npm start` / `npm exec …`, or node running npm-cli.js), the
 * `sh -c` it runs the script with, and tsx's own node process.
 */
export function launcherKind(argv: string[]): 'npm' | 'shell' | 'tsx' | undefined {
  if (!argv.length) return undefined;
  // A process title replaces the whole command line with one string: `npm exec tsx local/start.ts`.
  const title = basename(argv[0].split(' ')[0]);
  if (title === 'npm' || title === 'npx' || argv.some((a) => /(^|\/)np[mx]-cli\.js$/.test(a))) return 'npm';
  if (['sh', 'bash', 'dash'].includes(basename(argv[0])) && argv[1] === '-c' && /\btsx\b/.test(argv[2] ?? '')) return 'shell';
  if (argv.slice(1, 3).some((a) => basename(a) === 'tsx' || /tsx\/dist\/cli\.m?js$/.test(a))) return 'tsx';
  return undefined;
}

/**
 * The processes this one depends on: its parent, whatever it is, and above it the launchers up
 * to and including npm. Without /proc: the parent only (start time unknown).
 */
export function launchers(): ProcessId[] {
  const chain: ProcessId[] = [];
  let pid = process.ppid;
  for (let depth = 0; pid > 1 && depth < 6; depth++) {
    const stat = procStat(pid);
    const kind = launcherKind(commandLine(pid));
    if (depth > 0 && !kind) break;
    chain.push({ pid, startTime: stat?.startTime });
    if (kind === 'npm' || !stat) break;
    pid = stat.ppid;
  }
  return chain;
}

/** Whether `p` still runs (the same process: same start time when known; a zombie does not). */
export function isRunning(p: ProcessId): boolean {
  try {
    process.kill(p.pid, 0);
  } catch (e) {
    // EPERM: alive, owned by someone else.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(p.pid);
  if (stat?.state === 'Z') return false;
  return p.startTime === undefined || stat?.startTime === p.startTime;
}

/**
 * Calls `onGone` once, with the pid, when one of `watched` exits or this process is re-parented.
 * @returns a function that stops watching
 */
export function watchLaunchers(onGone: (pid: number) => void, watched: ProcessId[] = launchers(), intervalMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    const gone = process.ppid !== parent ? parent : watched.find((p) => !isRunning(p))?.pid;
    if (gone === undefined) return;
    clearInterval(timer);
    onGone(gone);
  }, intervalMs);
  // The watch alone must not keep a stopped runtime alive.
  timer.unref();
  return () => clearInterval(timer);
}
