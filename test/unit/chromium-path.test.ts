/** The browser executable the global setup hands to browser tests (`inject('chromium')`, CHROMIUM_PATH). */
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chromiumPath } from '../setup/global-setup';

describe('chromiumPath', () => {
  it('takes CHROMIUM_PATH when it is executable, and nothing when it is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'labelsync-chromium-'));
    const exe = join(dir, 'chromium');
    await writeFile(exe, '#!/bin/sh\n');
    await chmod(exe, 0o644);
    expect(chromiumPath({ CHROMIUM_PATH: exe })).toBeUndefined();
    await chmod(exe, 0o755);
    expect(chromiumPath({ CHROMIUM_PATH: exe })).toBe(exe);
    expect(chromiumPath({ CHROMIUM_PATH: join(dir, 'absent') })).toBeUndefined();
  });
});
