/** `npm run token -- --help` (docs/deploy.md points to it): usage on stdout, exit 0; bad options exit 2. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('scripts/token.ts --help', () => {
  it('prints the usage with every option and the table it needs, exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const { stdout } = await run('npx', ['tsx', 'scripts/token.ts', flag], { cwd: process.cwd() });
      expect(stdout).toMatch(/^usage: npm run token -- create/);
      for (const option of ['--org', '--org-id', '--label', '--table', '--region', '--endpoint', 'LABELSYNC_TABLE']) expect(stdout, flag).toContain(option);
    }
  }, 60_000);

  it('answers an unknown option with the usage on stderr and exit code 2', async () => {
    await expect(run('npx', ['tsx', 'scripts/token.ts', '--bogus'], { cwd: process.cwd() })).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage:') });
  }, 60_000);
});
