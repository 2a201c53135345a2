/**
 * `npm start`: labelsync on this machine, no AWS account. Reads the environment, applies the
 * local-mode defaults, starts the runtime (DynamoDB Local persisted under the data dir, HTTP,
 * local state machine, stream poller) and prints the URL and API token. Ctrl-C (SIGINT), SIGTERM or
 * SIGHUP, to this process or to npm above it, stops everything it started, and so does npm (or
 * tsx, sh, npx of `npx tsx local/start.ts`) exiting; a second start reuses the data dir. The
 * `start` script execs node itself, so the signals npm forwards reach this process.
 *
 * Environment (README lists them all):
 *   PORT (8080), HOST (127.0.0.1), LABELSYNC_DATA_DIR (./.labelsync), LABELSYNC_API_TOKEN (generated
 *   and stored in <data dir>/api-token), LABELSYNC_DYNAMODB_PORT (a free port), LABELSYNC_TABLE
 *   (labelsync), LABELSYNC_ALLOWED_ENDPOINTS (local default: loopback, see below),
 *   LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED / LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT (see below),
 *   and everything in shared/config/env.ts.
 */
import { parseEnv } from '../shared/config/env';
import { applyLocalDefaults } from './local-defaults';
import { watchLaunchers } from './launcher-watch';
import { startRuntime, type LabelsyncRuntime } from './runtime';

const started = Date.now();
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Once the launchers are gone the terminal or pipe may be too: a failed log write must not crash
// the runtime before it has stopped DynamoDB Local.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

async function main(): Promise<void> {
  const env = process.env;
  const notes = applyLocalDefaults(env);
  let starting: Promise<LabelsyncRuntime>;
  try {
    // Every variable is checked before anything starts; the runtime checks them again with its own.
    const parsed = parseEnv({ ...env, LABELSYNC_TABLE: env.LABELSYNC_TABLE || 'labelsync' });
    starting = startRuntime({
      port: parsed.port,
      host: env.HOST || '127.0.0.1',
      dataDir: env.LABELSYNC_DATA_DIR || '.labelsync',
      dynamodbPort: parsed.dynamodbPort,
      tableName: parsed.table,
      apiToken: env.LABELSYNC_API_TOKEN || undefined,
      preloadStateMachine: true,
      log: (m) => console.error(m),
    });
  } catch (e) {
    failed(e);
  }
  // Before the start completes: a signal during the start stops what it started once it is up.
  const stop = stopper(starting);
  process.on('SIGINT', () => stop('SIGINT', true));
  process.on('SIGTERM', () => stop('SIGTERM', true));
  process.on('SIGHUP', () => stop('SIGHUP', true));
  watchLaunchers((pid) => stop(`launcher process ${pid} exited`, false));

  const runtime = await starting.catch(failed);
  console.log(`labelsync is running at ${runtime.url} (ready in ${Date.now() - started} ms)`);
  console.log(`  data:  ${runtime.dataDir}`);
  console.log(`  token: ${runtime.token}${runtime.tokenCreated ? '  (new; stored in the data dir)' : ''}`);
  console.log(`  open:  ${runtime.url}/ (the console; sign in with the token)`);
  console.log(`  try:   curl -H "Authorization: Token ${runtime.token}" ${runtime.url}/api/projects/`);
  for (const n of notes) console.log(`  note:  ${n}`);
}

function failed(e: unknown): never {
  console.error(`labelsync failed to start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

/**
 * Stops the runtime once and exits. `bySignal`: a deliberate second signal, a second or more
 * after the first, forces the exit.
 */
function stopper(starting: Promise<LabelsyncRuntime>): (reason: string, bySignal: boolean) => void {
  let stoppingSince = 0;
  return (reason, bySignal) => {
    if (stoppingSince) {
      // Ctrl-C reaches this process twice at once (the terminal signals the whole process group and
      // tsx relays it), and the launchers exit meanwhile: only a later second signal forces the exit.
      if (!bySignal || Date.now() - stoppingSince < 1_000) return;
      console.error('second signal: exiting now');
      process.exit(1);
    }
    stoppingSince = Date.now();
    console.error(`${reason}: stopping…`);
    // Bounded: a stuck child must not keep the terminal hostage.
    const force = setTimeout(() => {
      console.error('stop took too long; exiting');
      process.exit(1);
    }, 20_000);
    force.unref();
    starting.then((runtime) => runtime.stop()).then(
      () => {
        console.error('stopped');
        process.exit(0);
      },
      (e) => {
        console.error(`stop failed: ${String(e)}`);
        process.exit(1);
      },
    );
  };
}

void main();
