/**
 * Headless Chromium for the browser suite: Debian's `chromium` package (CHROMIUM_PATH overrides
 * /usr/bin/chromium), driven by playwright-core, which downloads no browser of its own.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** The browser binary the suite drives. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Whether the binary is there. In CI a missing browser is a failure, elsewhere a visible skip. */
export const chromiumMissing = !existsSync(CHROMIUM_PATH);
export const skipBrowserSuite = chromiumMissing && !process.env.CI;
export const skipReason = `chromium not found at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`;

/** Launches the browser once per test file. Throws naming the binary when it is missing (CI). */
export async function launchChromium(): Promise<Browser> {
  if (chromiumMissing) throw new Error(skipReason);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 60_000,
    // Root (CI) cannot use the setuid sandbox; /dev/shm is small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}
