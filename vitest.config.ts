import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that take longest (each spawns JVMs, `npm start` or thousands of emulator writes), started
 * first: with two workers, a long file started last is the run's tail. Vitest orders by the last
 * run's durations only when it has them, and a fresh CI clone has none (it then orders by file size).
 */
const SLOW_FIRST = [
  'test/emulators/launchers.test.ts',
  'test/integration/export-sync.test.ts',
  'test/integration/local-process.test.ts',
  'test/infra/iam-evaluation.test.ts',
  'test/integration/local-state-machine.test.ts',
  'test/faults/emulator-restart.test.ts',
  'test/integration/sync-import.test.ts',
  'test/integration/local-start.test.ts',
  'test/faults/strict-sync.test.ts',
  'test/integration/local-bad-env.test.ts',
];

class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.indexOf(relative(f.project.config.root, f.moduleId));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

/** The test files under `dirs`, as root-relative paths with forward slashes. */
function testFiles(dirs: string[]): string[] {
  const root = fileURLToPath(new URL('.', import.meta.url));
  return dirs.flatMap((d) =>
    readdirSync(join(root, d), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => join(d, f).split(sep).join('/')),
  );
}

/**
 * Unit and infra files that need no emulator and leave no process-wide state behind run in the
 * `shared` project: one module graph per worker (isolate: false), so aws-cdk-lib and the provider
 * SDKs load once per worker instead of once per file (~5 s per infra file). Files that inject
 * emulator endpoints, change process.env or hook process-wide objects stay isolated.
 */
const SHARED_DIRS = ['test/unit', 'test/infra'];
const NEEDS_ISOLATION = [
  // These read the table name from the environment the global setup provides.
  'test/unit/api-openapi.test.ts',
  'test/unit/storage-registry.test.ts',
  'test/unit/aws-call-recorder.test.ts',
  'test/unit/chromium-path.test.ts',
  'test/unit/config-env.test.ts',
  'test/unit/crypto-secret-box.test.ts',
  'test/unit/storage-azure-delegation.test.ts',
  'test/unit/storage-s3.test.ts',
  'test/unit/storage-sts.test.ts',
  'test/unit/tracing.test.ts',
  'test/infra/bundle-budget.test.ts',
  'test/infra/iam-evaluation.test.ts',
];
/** The shared project's files, listed (a glob cannot say "except" for the isolated project). */
const SHARED = testFiles(SHARED_DIRS).filter((f) => !NEEDS_ISOLATION.includes(f));

/**
 * Emulator-using files that share a module graph per worker too (the `emulators` project): each
 * starts from the worker's initial environment and no installed app (test/setup/file-state.ts).
 * Left isolated: files that spawn `npm start` process trees or JVMs (their run time is the
 * process, not imports), restart emulators, or set Powertools' environment before its
 * module-level loggers and metrics are built.
 */
const EMULATOR_DIRS = ['test/acceptance', 'test/contract', 'test/emulators', 'test/faults', 'test/integration', 'test/security'];
const EMULATOR_ISOLATED = [
  'test/emulators/launchers.test.ts',
  'test/faults/emulator-restart.test.ts',
  'test/integration/local-process.test.ts',
  'test/integration/local-start.test.ts',
  'test/integration/local-bad-env.test.ts',
  'test/integration/observability.test.ts',
  'test/security/secrets.test.ts',
];
const EMULATOR_SHARED = testFiles(EMULATOR_DIRS).filter((f) => !EMULATOR_ISOLATED.includes(f));

/** Options of the projects whose files share one module graph per worker. */
const ONE_GRAPH = { isolate: false, unstubEnvs: true, unstubGlobals: true, restoreMocks: true };

// AWS-strict mode: the suite holds the code to AWS's rules where the emulators are kinder.
const env = { LABELSYNC_TEST: '1', LABELSYNC_AWS_STRICT: '1' };

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: emulators, DynamoDB Local and the tests share them.
    maxWorkers: 2,
    sequence: { sequencer: SlowFirstSequencer },
    // In CI also write a JSON report: .ci/run prints its "N passed, N failed" summary from it.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.labelsync/test-results.json' }]] : ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'shared', include: SHARED, ...ONE_GRAPH, env },
      },
      {
        extends: true,
        test: {
          name: 'emulators',
          include: EMULATOR_SHARED,
          ...ONE_GRAPH,
          setupFiles: ['test/setup/file-state.ts'],
          globalSetup: ['test/setup/global-setup.ts'],
          env,
        },
      },
      {
        extends: true,
        test: {
          name: 'isolated',
          include: ['test/**/*.test.ts'],
          exclude: [...SHARED, ...EMULATOR_SHARED],
          globalSetup: ['test/setup/global-setup.ts'],
          env,
        },
      },
    ],
  },
});
