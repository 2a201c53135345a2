import { relative } from 'node:path';
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

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: emulators, DynamoDB Local and the tests share them.
    maxWorkers: 2,
    sequence: { sequencer: SlowFirstSequencer },
    // AWS-strict mode: the suite holds the code to AWS's rules where the emulators are kinder.
    env: { LABELSYNC_TEST: '1', LABELSYNC_AWS_STRICT: '1' },
    // In CI also write a JSON report: .ci/run prints its "N passed, N failed" summary from it.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.labelsync/test-results.json' }]] : ['default'],
  },
});
