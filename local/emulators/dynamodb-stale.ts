/**
 * A DynamoDB Local left running on a data directory (its runtime was killed with SIGKILL, or the
 * machine lacks `setpriv` to tie the JVM's life to the runtime's) would share the SQLite files
 * with the next one started there. The launcher records the JVM's pid in the data directory and,
 * before starting, stops any JVM still serving it: the one in the pid file and, where /proc
 * exists, any other whose command line names the directory.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { commandLine, isRunning } from '../launcher-watch';

const PID_FILE = 'dynamodb-local.pid';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records the JVM serving `dbPath`. */
export const writeDynamoDbPid = (dbPath: string, pid: number): Promise<void> => writeFile(join(dbPath, PID_FILE), `${pid}\n`);

export const removeDynamoDbPid = (dbPath: string): Promise<void> => rm(join(dbPath, PID_FILE), { force: true });

/** Whether a command line is DynamoDB Local's jar serving `dbPath` (an absolute path). */
export function servesDbPath(argv: string[], dbPath: string): boolean {
  const at = argv.indexOf('-dbPath');
  return at >= 0 && argv[at + 1] === dbPath && argv.some((a) => basename(a) === 'DynamoDBLocal.jar');
}

/** argv of `pid`: /proc, else `ps` (macOS), split on spaces (enough to match our own paths). */
async function argvOf(pid: number): Promise<string[]> {
  const fromProc = commandLine(pid);
  if (fromProc.length) return fromProc;
  return new Promise((resolve) => execFile('ps', ['-p', String(pid), '-o', 'command='], (err, out) => resolve(err ? [] : out.trim().split(/\s+/))));
}

/** pids of the DynamoDB Local JVMs serving `dbPath` (absolute). */
export async function dynamoDbPidsOn(dbPath: string): Promise<number[]> {
  const candidates = new Set<number>();
  const recorded = Number((await readFile(join(dbPath, PID_FILE), 'utf8').catch(() => '')).trim());
  if (recorded > 1) candidates.add(recorded);
  for (const name of await readdir('/proc').catch(() => [] as string[])) if (/^\d+$/.test(name)) candidates.add(Number(name));
  candidates.delete(process.pid);
  const out: number[] = [];
  for (const pid of candidates) if (servesDbPath(await argvOf(pid), dbPath)) out.push(pid);
  return out;
}

/** SIGTERM, then SIGKILL after `graceMs`; throws naming the pid if it survives both. */
async function stopPid(pid: number, graceMs: number): Promise<void> {
  for (const [signal, waitMs] of [['SIGTERM', graceMs], ['SIGKILL', 2_000]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    for (const until = Date.now() + waitMs; Date.now() < until; await sleep(100)) if (!isRunning({ pid })) return;
  }
  throw new Error(`a stale DynamoDB Local (pid ${pid}) is still running; stop it and start again`);
}

/** Stops every JVM still serving `dbPath` (absolute), logging each pid; removes the pid file. */
export async function stopStaleDynamoDb(dbPath: string, log: (message: string) => void, graceMs = 5_000): Promise<void> {
  for (const pid of await dynamoDbPidsOn(dbPath)) {
    log(`[dynamodb] stopping a stale DynamoDB Local (pid ${pid}) left running on ${dbPath}`);
    await stopPid(pid, graceMs);
  }
  await removeDynamoDbPid(dbPath);
}
