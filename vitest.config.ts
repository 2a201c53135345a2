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
    env: { LABELSYNC_TEST: '1' },
  },
});
