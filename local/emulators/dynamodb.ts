/**
 * DynamoDB Local (the jar shipped inside amplify-dynamodb-simulator), run with java directly:
 * the package's own JS launcher is broken. `-sharedDb` so every client sees the same tables.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { removeDynamoDbPid, stopStaleDynamoDb, writeDynamoDbPid } from './dynamodb-stale';
import { commandWorks, freePort, httpAnswers, spawnManaged, waitUntil } from './process';

export interface DynamoDbEndpoint {
  endpoint: string;
  region: string;
}

export interface RunningDynamoDb extends DynamoDbEndpoint {
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Fixed port; default a free one. */
  port?: number;
  /** Persistent data directory (created if missing). Ignored when `inMemory`. */
  dbPath?: string;
  /** Default true unless `dbPath` is given. */
  inMemory?: boolean;
  /** Java max heap, default '2g'. */
  maxHeap?: string;
  /** Readiness wait, default 60 s (the JVM is slow on a busy 2-core box). */
  timeoutMs?: number;
  /**
   * C1-only JIT: starts 2–3× faster on a loaded 2-core box (measured 4.5–6 s vs 11–16 s at load
   * 26–28), lower peak throughput. Default: only for in-memory instances.
   */
  quickStart?: boolean;
  /**
   * Run Java in its own process group, so a terminal's Ctrl-C (sent to the whole foreground group)
   * does not kill it under a runtime that is still stopping its syncs; the owner stops it by PID
   * (and the exit hook kills it). Default false.
   */
  ownProcessGroup?: boolean;
  /**
   * Have the kernel send the JVM SIGTERM when this process dies, even by SIGKILL (`setpriv
   * --pdeathsig`, Linux; skipped where setpriv is missing). Only from the main thread: the
   * signal follows the spawning thread, and a worker thread may end before the process.
   * Default false.
   */
  dieWithParent?: boolean;
  /** Notes such as a stale JVM stopped on `dbPath`. @default console.error */
  log?: (message: string) => void;
}

function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = path.dirname(require.resolve('amplify-dynamodb-simulator/package.json'));
  } catch {
    pkgDir = path.resolve('node_modules/amplify-dynamodb-simulator');
  }
  const dir = path.join(pkgDir, 'emulator');
  if (!existsSync(path.join(dir, 'DynamoDBLocal.jar'))) {
    throw new Error(`DynamoDB Local jar not found in ${dir}: run \`npm ci\` (devDependency amplify-dynamodb-simulator).`);
  }
  return dir;
}

/** Starts DynamoDB Local on 127.0.0.1 and waits until it answers HTTP. */
export async function startDynamoDbLocal(opts: DynamoDbLocalOptions = {}): Promise<RunningDynamoDb> {
  if (!(await commandWorks('java', ['-version']))) {
    throw new Error(
      'DynamoDB Local needs Java (17+), and `java` was not found. Install it: ' +
        'apt-get update && apt-get install -y default-jre-headless',
    );
  }
  const dir = emulatorDir();
  const port = opts.port ?? (await freePort());
  const inMemory = opts.inMemory ?? !opts.dbPath;
  const dbPath = !inMemory && opts.dbPath ? path.resolve(opts.dbPath) : undefined;
  if (dbPath) {
    await mkdir(dbPath, { recursive: true });
    await stopStaleDynamoDb(dbPath, opts.log ?? ((m) => console.error(m)));
  }
  const args = javaArgs(dir, port, dbPath, inMemory, opts);
  const [cmd, cmdArgs] = (await diesWithParent(opts)) ? ['setpriv', ['--pdeathsig', 'TERM', '--', 'java', ...args]] : ['java', args];
  const proc = spawnManaged('DynamoDB Local', cmd, cmdArgs, { cwd: dir, detached: opts.ownProcessGroup ?? false });
  // setpriv execs java: the pid is the JVM's.
  if (dbPath && proc.child.pid) await writeDynamoDbPid(dbPath, proc.child.pid);
  const stop = async () => {
    await proc.stop();
    if (dbPath) await removeDynamoDbPid(dbPath);
  };
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('DynamoDB Local', () => httpAnswers(endpoint), {
      timeoutMs: opts.timeoutMs ?? 60_000,
      failed: proc.exited,
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { endpoint, region: 'us-east-1', port, pid: proc.child.pid, stop };
}

async function diesWithParent(opts: DynamoDbLocalOptions): Promise<boolean> {
  return !!opts.dieWithParent && isMainThread && process.platform === 'linux' && (await commandWorks('setpriv', ['--version']));
}

/** The JVM's command line: `dbPath` (absolute) persists, else `inMemory` or the jar's default. */
function javaArgs(dir: string, port: number, dbPath: string | undefined, inMemory: boolean, opts: DynamoDbLocalOptions): string[] {
  return [
    `-Xmx${opts.maxHeap ?? '2g'}`,
    // Two cores shared with node and the tests: a single-threaded collector, and (for throwaway
    // in-memory instances) C1-only JIT, which starts noticeably faster.
    '-XX:+UseSerialGC',
    ...((opts.quickStart ?? inMemory) ? ['-XX:TieredStopAtLevel=1'] : []),
    `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    path.join(dir, 'DynamoDBLocal.jar'),
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(port),
    ...(dbPath ? ['-dbPath', dbPath] : inMemory ? ['-inMemory'] : []),
  ];
}
