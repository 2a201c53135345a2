import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: emulators, DynamoDB Local and the tests share them.
    maxWorkers: 2,
    // AWS-strict mode: the suite holds the code to AWS's rules where the emulators are kinder.
    env: { LABELSYNC_TEST: '1', LABELSYNC_AWS_STRICT: '1' },
    // In CI also write a JSON report: .ci/run prints its "N passed, N failed" summary from it.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.labelsync/test-results.json' }]] : ['default'],
  },
});
