/** `npm run token -- --help` (docs/deploy.md points to it): usage on stdout, exit 0; bad options exit 2. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
// tsx's CLI on this node directly: `npx` would add an npm start-up to every run.
const tsx = path.resolve('node_modules/tsx/dist/cli.mjs');
const run = (...args: string[]) => exec(process.execPath, [tsx, 'scripts/token.ts', ...args], { cwd: process.cwd() });

describe('scripts/token.ts --help', () => {
  it('prints the usage with every option and the table it needs, exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const { stdout } = await run(flag);
      expect(stdout).toMatch(/^usage: npm run token -- create/);
      for (const option of ['--org', '--org-id', '--label', '--table', '--region', '--endpoint', 'LABELSYNC_TABLE']) expect(stdout, flag).toContain(option);
    }
  }, 60_000);

  it('answers an unknown option with the usage on stderr and exit code 2', async () => {
    await expect(run('--bogus')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage:') });
  }, 60_000);
});
