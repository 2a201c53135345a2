/**
 * How a user moves through the console, by the accessible names of its controls (the user
 * guide's wording): sign in, open a project's pages, find a storage's row, read a field's error.
 */
import type { Locator, Page } from 'playwright-core';

// Evaluated in the page: the project's TypeScript has no DOM library.
declare const document: { getElementById(id: string): { textContent: string | null } | null };

/** Signs in with `token` from the start page; resolves once the projects list shows. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel(/api token/i).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /projects/i }).first().waitFor();
}

/** Opens a project from the projects list, then one of its pages ("Cloud Storage", "Tasks", "Webhooks"). */
export async function openProjectPage(page: Page, projectTitle: string, pageName: RegExp): Promise<void> {
  const nav = page.getByRole('link', { name: pageName }).first();
  const project = page.getByRole('link', { name: projectTitle, exact: true }).first();
  await Promise.race([nav.waitFor(), project.waitFor()]);
  if (!(await nav.isVisible())) await project.click();
  await nav.click();
}

/** The row of a storage in the Cloud Storage lists: the list item holding its title and its Sync button. */
export function storageRow(page: Page, title: string): Locator {
  return page
    .locator(':is(li, tr, [role=row], [role=listitem])')
    .filter({ hasText: title })
    .filter({ has: page.getByRole('button', { name: /^sync/i }) })
    .last();
}

/** The open dialog (role dialog, visible). */
export const openDialog = (page: Page): Locator => page.getByRole('dialog').filter({ visible: true });

/** The text of the elements an input's aria-describedby names: where the console shows its field errors. */
export async function accessibleDescription(input: Locator): Promise<string> {
  return input.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id: string) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
      .trim(),
  );
}

/** Clicks a row's Delete and confirms, whether the console asks with window.confirm or a dialog of its own. */
export async function deleteStorage(page: Page, row: Locator): Promise<void> {
  page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: /^delete/i }).click();
  const confirm = openDialog(page).getByRole('button', { name: /delete|confirm|yes/i });
  await Promise.race([row.waitFor({ state: 'detached', timeout: 20_000 }), confirm.waitFor({ timeout: 20_000 })]);
  if (await confirm.isVisible()) await confirm.click();
}
