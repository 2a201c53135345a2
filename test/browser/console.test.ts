/**
 * The console in headless Chromium against `npm start`'s runtime on the emulators: a user's
 * journey through the guide's steps (sign in, create a project, add a local-files and an S3
 * source through the dialog, check the connection, sync, watch the progress, see the tasks and an
 * image, add a target, see its counters move, delete a storage), axe-core on every page and
 * dialog, and the keyboard path to the add-storage dialog. One runtime and one browser per file,
 * a page (fresh session storage) per test.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousViolations } from './axe';
import { chromiumMissing, launchChromium, skipBrowserSuite, skipReason } from './chromium';
import { accessibleDescription, deleteStorage, openDialog, openProjectPage, signIn, storageRow } from './console-nav';
import { openConsolePage, type ConsolePage } from './console-page';
import { startConsoleRuntime, type ConsoleRuntime } from './console-runtime';

// Evaluated in the page: the project's TypeScript has no DOM library.
declare const document: { activeElement: { innerText?: string; closest(s: string): unknown } | null };
declare const sessionStorage: Record<string, string>;
declare const localStorage: Record<string, string>;

let env: ConsoleRuntime;
let browser: Browser;
const WAIT = { timeout: 45_000, interval: 250 };

async function open(name: string): Promise<ConsolePage> {
  return openConsolePage(browser, env.runtime.url, name);
}

async function newProject(title: string): Promise<number> {
  const r = await env.api('POST', '/api/projects/', { title, label_config: '<View><Image name="image" value="$image"/><Choices name="c" toName="image"><Choice value="a"/></Choices></View>' });
  expect(r.status).toBe(201);
  return r.json.id as number;
}

async function expectAccessible(page: Page, what: string, scope?: string): Promise<void> {
  expect(await seriousViolations(page, scope), `axe on ${what}`).toEqual([]);
}

/** Picks the option of a <select> whose text matches. */
async function selectByText(select: Locator, text: RegExp): Promise<void> {
  const value = await select.locator('option', { hasText: text }).first().getAttribute('value');
  await select.selectOption(value ?? '');
}

/** Fills the add-storage dialog's fields by their labels; checkboxes take booleans. */
async function fillStorageDialog(page: Page, type: string, fields: [RegExp, string | boolean][]): Promise<void> {
  const dialog = openDialog(page);
  await dialog.getByLabel(/storage type/i).selectOption(type);
  for (const [label, value] of fields) {
    const input = dialog.getByLabel(label).first();
    if (typeof value === 'boolean') await input.setChecked(value);
    else await input.fill(value);
  }
}

async function checkConnectionOk(page: Page): Promise<void> {
  const dialog = openDialog(page);
  await dialog.getByRole('button', { name: 'Check Connection' }).click();
  await dialog.getByText(/connection (is )?ok|connection succeeded|successful/i).first().waitFor();
}

async function addStorage(page: Page): Promise<void> {
  await openDialog(page).getByRole('button', { name: 'Add Storage' }).click();
  await openDialog(page).waitFor({ state: 'hidden' });
}

const COMPLETED = /\bcompleted\b(?! with)/i;

interface StorageState {
  title: string;
  status: string;
  last_sync_job?: unknown;
}

/** A storage of the project as the API has it, found by title (`export`: the target list). */
async function storageState(pid: number, title: string, role: 'import' | 'export'): Promise<StorageState | undefined> {
  const list = (await env.api('GET', `/api/storages${role === 'export' ? '/export' : ''}?project=${pid}`)).json as StorageState[];
  return list.find((s) => s.title === title);
}

/**
 * Presses the row's Sync and waits for that sync (a new job, per the API) to complete; then for
 * the row and its progress panel to show it: 100 %, completed, and `shows`. Returns their text.
 */
async function syncToCompletion(page: Page, pid: number, title: string, role: 'import' | 'export', shows: RegExp): Promise<string> {
  const row = storageRow(page, title);
  const before = (await storageState(pid, title, role))?.last_sync_job;
  await row.getByRole('button', { name: /^sync/i }).click();
  await expect.poll(async () => { const s = await storageState(pid, title, role); return s?.last_sync_job !== before && s?.status; }, WAIT).toBe('completed');
  const progress = page.getByRole('region', { name: `Sync of ${title}` });
  await expect.poll(() => progress.getByRole('progressbar').getAttribute('aria-valuenow').catch(() => null), WAIT).toBe('100');
  const text = async () => `${await row.innerText()}\n${await progress.innerText()}`;
  await expect.poll(text, WAIT).toMatch(COMPLETED);
  await expect.poll(text, WAIT).toMatch(shows);
  return text();
}

// In CI a missing browser is a failed test (not only a failed hook), so the run's counts say so.
it.runIf(!!process.env.CI)('chromium is installed for the browser suite (CI)', () => {
  expect(chromiumMissing, skipReason).toBe(false);
});

describe.skipIf(skipBrowserSuite)(`console in headless Chromium${skipBrowserSuite ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    [env, browser] = await Promise.all([startConsoleRuntime(), launchChromium()]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await env?.stop();
  });

  it('the accessibility check reports a serious violation when there is one (an unlabelled input)', async (ctx) => {
    const { page } = await open(ctx.task.name);
    await page.setContent('<main><h1>t</h1><input type="text"></main>');
    expect((await seriousViolations(page)).join('\n')).toMatch(/^label \(critical\)/m);
  });

  it('sign-in: a wrong token shows the 401 message, the right one opens the projects list; both pages pass axe', async (ctx) => {
    const cp = await open(ctx.task.name);
    const { page } = cp;
    cp.allowStatus(401, /^\/api\//);
    await page.goto('/');
    await page.getByRole('heading').first().waitFor();
    await cp.step('sign-in page');
    await expectAccessible(page, 'sign-in');

    await page.getByLabel(/api token/i).fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert').filter({ hasText: /invalid token|401/i });
    await alert.waitFor();
    await cp.step('wrong token');
    // The token is kept in the tab's session storage, never in the address bar.
    expect(page.url()).not.toContain('not-a-token');

    await signIn(page, env.runtime.token!);
    expect(page.url()).not.toContain(env.runtime.token!);
    const stores = await page.evaluate(() => ({ session: JSON.stringify({ ...sessionStorage }), local: JSON.stringify({ ...localStorage }) }));
    expect(stores.session).toContain(env.runtime.token!);
    expect(stores.local).not.toContain(env.runtime.token!);
    await cp.step('projects');
    await expectAccessible(page, 'projects list');
    expect(cp.problems()).toEqual([]);
  });

  it('journey: project, local-files and S3 sources through the dialog, sync to 100%, tasks and images, target counters, delete', async (ctx) => {
    const cp = await open(ctx.task.name);
    const { page } = cp;
    const { s3, bucket, root } = env;
    await signIn(page, env.runtime.token!);

    // Create a project from the image classification template (the form may sit behind its button).
    const title = `Journey ${Date.now().toString(36)}`;
    const titleBox = page.getByLabel(/^title$/i).first();
    if (!(await titleBox.isVisible())) await page.getByRole('button', { name: 'Create Project' }).click();
    const form = (await openDialog(page).count()) ? openDialog(page) : page.locator('main');
    await form.getByLabel(/^title$/i).fill(title);
    await selectByText(form.getByLabel(/template/i), /image classification/i);
    await cp.step('create project');
    await expectAccessible(page, 'create-project form');
    await form.getByRole('button', { name: /^create( project)?$/i }).last().click();
    await openProjectPage(page, title, /cloud storage/i);
    await page.getByRole('heading', { name: /source storage/i }).first().waitFor();
    await cp.step('storage settings');
    await expectAccessible(page, 'storage settings');

    // Local-files source.
    await page.getByRole('button', { name: 'Add Source Storage' }).click();
    await openDialog(page).waitFor();
    await expectAccessible(page, 'add-storage dialog', '[role=dialog]');
    await fillStorageDialog(page, 'localfiles', [
      [/storage title/i, 'local images'],
      [/absolute local path/i, join(root, 'images')],
      [/file filter regex/i, '.*\\.png'],
      [/treat every bucket object as a source file/i, true],
    ]);
    await checkConnectionOk(page);
    await cp.step('local-files dialog');
    await addStorage(page);

    // S3 source on the emulator: a wrong bucket name first, the server's error beside the field.
    cp.allowStatus(400, /^\/api\/storages\/s3\/validate$/);
    await page.getByRole('button', { name: 'Add Source Storage' }).click();
    await openDialog(page).waitFor();
    await fillStorageDialog(page, 's3', [
      [/storage title/i, 's3 images'],
      [/bucket name/i, 'Wrong_Bucket'],
      [/bucket prefix/i, 'images'],
      [/file filter regex/i, '.*\\.png'],
      [/region/i, s3.region],
      [/s3 endpoint/i, s3.endpoint],
      [/access key id/i, s3.accessKeyId],
      [/secret access key/i, s3.secretAccessKey],
      [/treat every bucket object as a source file/i, true],
    ]);
    const bucketInput = openDialog(page).getByLabel(/bucket name/i);
    await openDialog(page).getByRole('button', { name: 'Check Connection' }).click();
    await expect.poll(() => accessibleDescription(bucketInput), WAIT).toMatch(/Invalid bucket name/);
    expect(await bucketInput.getAttribute('aria-invalid')).toBe('true');
    await bucketInput.scrollIntoViewIfNeeded();
    await cp.step('wrong bucket');
    await expectAccessible(page, 'add-storage dialog with a field error', '[role=dialog]');
    await bucketInput.fill(bucket);
    await checkConnectionOk(page);
    await addStorage(page);
    await cp.step('two sources');

    // Sync both; the rows show the progress reaching 100 % and the counts.
    const pid = Number(/\/projects\/(\d+)\//.exec(page.url())?.[1]);
    await syncToCompletion(page, pid, 'local images', 'import', /\b2 tasks\b[^]*Failed\s*0/);
    await syncToCompletion(page, pid, 's3 images', 'import', /\b3 tasks\b[^]*Failed\s*0/);
    await cp.step('synced');

    // Edit shows the stored secrets as "stored" with a Replace control, never their values.
    await storageRow(page, 's3 images').getByRole('button', { name: /^edit/i }).click();
    const edit = openDialog(page);
    await edit.getByRole('button', { name: 'Replace Secret Access Key' }).waitFor();
    expect(await edit.innerText()).toMatch(/\bstored\b/);
    expect(await page.content()).not.toContain(s3.secretAccessKey);
    expect(await edit.getByLabel(/bucket name/i).inputValue()).toBe(bucket);
    await cp.step('edit dialog');
    await expectAccessible(page, 'edit-storage dialog', '[role=dialog]');
    await page.keyboard.press('Escape');
    await edit.waitFor({ state: 'hidden' });

    // Tasks: one row per image, and each source's image renders in the task view.
    await openProjectPage(page, title, /^tasks$/i);
    const rows = page.getByRole('table').first().getByRole('row');
    await expect.poll(() => rows.count(), WAIT).toBe(6); // header + 5 tasks
    await cp.step('tasks');
    await expectAccessible(page, 'tasks');
    for (const [file, width] of [['l1.png', 32], ['s2.png', 16]] as const) {
      await rows.filter({ hasText: file }).first().getByRole('link').first().click();
      const img = page.locator('main img').first();
      await expect.poll(() => img.evaluate((i) => { const im = i as unknown as { complete: boolean; naturalWidth: number }; return im.complete && im.naturalWidth; }), WAIT).toBe(width);
      await cp.step(`task view ${file}`);
      await expectAccessible(page, `task view of ${file}`);
      await page.goBack();
      await rows.first().waitFor();
    }

    // Target storage (local files): created, then an annotation made through the API is counted by its next sync.
    await openProjectPage(page, title, /cloud storage/i);
    await page.getByRole('button', { name: 'Add Target Storage' }).click();
    await openDialog(page).waitFor();
    await fillStorageDialog(page, 'localfiles', [
      [/storage title/i, 'results'],
      [/absolute local path/i, join(root, 'out')],
    ]);
    await addStorage(page);
    const target = storageRow(page, 'results');
    await expect.poll(() => target.innerText(), WAIT).toMatch(COMPLETED);
    await expect.poll(() => target.innerText(), WAIT).toMatch(/\b0 annotations\b/);
    const before = await target.innerText();
    const taskId = (await env.api('GET', `/api/tasks?project=${pid}`)).json.tasks[0].id as number;
    const ann = await env.api('POST', `/api/tasks/${taskId}/annotations/`, { result: [{ from_name: 'c', to_name: 'image', type: 'choices', value: { choices: ['a'] } }] });
    expect(ann.status).toBe(201);
    const after = await syncToCompletion(page, pid, 'results', 'export', /\b1 annotations?\b/);
    expect(after).not.toEqual(before);
    expect(await readdir(join(root, 'out'))).toContain(String(ann.json.id));
    await cp.step('target synced');

    // Delete the S3 source: its row goes, the API agrees, the tasks stay.
    await deleteStorage(page, storageRow(page, 's3 images'));
    await storageRow(page, 's3 images').waitFor({ state: 'detached' });
    const left = (await env.api('GET', `/api/storages?project=${pid}`)).json as { title: string }[];
    expect(left.map((s) => s.title)).toEqual(['local images']);
    await cp.step('deleted');
    expect(cp.problems()).toEqual([]);
  }, 180_000);

  it('keyboard: Tab reaches Add Source Storage, Enter opens the dialog, Escape closes it and focus returns', async (ctx) => {
    const title = `Keys ${Date.now().toString(36)}`;
    await newProject(title);
    const cp = await open(ctx.task.name);
    const { page } = cp;
    await signIn(page, env.runtime.token!);
    await page.getByRole('link', { name: title, exact: true }).first().click();
    await openProjectPage(page, title, /cloud storage/i);
    await page.getByRole('button', { name: 'Add Source Storage' }).waitFor();
    await page.locator('body').focus();
    const focusedName = () => page.evaluate(() => document.activeElement?.innerText?.trim() ?? '');
    let reached = false;
    for (let i = 0; i < 60 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await focusedName()) === 'Add Source Storage';
    }
    expect(reached, 'Tab reaches Add Source Storage').toBe(true);
    await page.keyboard.press('Enter');
    await openDialog(page).waitFor();
    // Focus moves into the dialog.
    expect(await page.evaluate(() => !!document.activeElement?.closest('[role=dialog]'))).toBe(true);
    await cp.step('dialog open by keyboard');
    await page.keyboard.press('Escape');
    await openDialog(page).waitFor({ state: 'hidden' });
    expect(await focusedName()).toBe('Add Source Storage');
    expect(cp.problems()).toEqual([]);
  });

  it('webhooks page of a project passes axe', async (ctx) => {
    const title = `Hooks ${Date.now().toString(36)}`;
    const pid = await newProject(title);
    const cp = await open(ctx.task.name);
    const { page } = cp;
    // A build without the webhook routes answers 404; the page says so instead of failing.
    if ((await env.api('GET', `/api/webhooks?project=${pid}`)).status === 404) cp.allowStatus(404, /^\/api\/webhooks/);
    await signIn(page, env.runtime.token!);
    await page.getByRole('link', { name: title, exact: true }).first().click();
    await openProjectPage(page, title, /webhooks/i);
    await page.getByRole('heading', { name: /webhooks/i }).first().waitFor();
    await cp.step('webhooks');
    await expectAccessible(page, 'webhooks');
    expect(cp.problems()).toEqual([]);
  });
});
