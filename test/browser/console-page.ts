/**
 * One browser page of a test: screenshots of each step under
 * `.labelsync/browser-artifacts/<test>/<step>.png` (kept when the test fails, deleted when it
 * passes), and the page's console errors, uncaught exceptions, failed requests and HTTP error
 * answers collected so that a test can assert there were none it did not expect.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { onTestFinished } from 'vitest';

export const ARTIFACTS_DIR = fileURLToPath(new URL('../../.labelsync/browser-artifacts/', import.meta.url));

export interface ConsolePage {
  page: Page;
  /** Saves a full-page screenshot named `<n>-<name>.png`. */
  step(name: string): Promise<void>;
  /** An HTTP answer with this status on a path matching `path` is expected (e.g. the 401 of a wrong token). */
  allowStatus(status: number, path: RegExp): void;
  /** Everything that went wrong in the page and was not expected, one readable line each. */
  problems(): string[];
}

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

/**
 * Opens a page in a fresh context (its own session storage) at 1280×800. Must be called inside a
 * test: the page is closed when the test finishes, and its artifacts removed if it passed.
 */
export async function openConsolePage(browser: Browser, baseURL: string, testName: string): Promise<ConsolePage> {
  // bypassCSP: axe-core is injected as a script, which the console's CSP (rightly) refuses.
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const page = await context.newPage();
  // Generous: the machine is shared, and a wait that times out fails with the locator it waited for.
  page.setDefaultTimeout(30_000);
  const dir = join(ARTIFACTS_DIR, slug(testName));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const found: string[] = [];
  const allowed: { status: number; path: RegExp }[] = [];
  let n = 0;

  page.on('pageerror', (e) => found.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    // Chromium also logs every HTTP error answer as "Failed to load resource"; those are judged
    // below from the response itself, where the expected ones can be told apart.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) found.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => {
    const reason = r.failure()?.errorText ?? '';
    // ERR_ABORTED is the page cancelling its own request (a poll stopped, an image replaced).
    if (reason !== 'net::ERR_ABORTED') found.push(`request failed: ${r.method()} ${r.url()} ${reason}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const path = new URL(r.url()).pathname;
    if (!allowed.some((a) => a.status === r.status() && a.path.test(path))) found.push(`HTTP ${r.status()}: ${r.request().method()} ${path}`);
  });

  onTestFinished(async ({ task }) => {
    if (task.result?.state === 'fail') await page.screenshot({ path: join(dir, 'zz-at-failure.png'), fullPage: true }).catch(() => {});
    await context.close().catch(() => {});
    if (task.result?.state !== 'fail') rmSync(dir, { recursive: true, force: true });
    else console.error(`[browser] screenshots of the failed test kept in ${dir}`);
  });

  return {
    page,
    async step(name) {
      n += 1;
      await page.screenshot({ path: join(dir, `${String(n).padStart(2, '0')}-${slug(name)}.png`), fullPage: true }).catch(() => {});
    },
    allowStatus(status, path) {
      allowed.push({ status, path });
    },
    problems: () => [...found],
  };
}
