/**
 * Webhook use cases (`/api/webhooks/`, Label Studio's routes and fields): every lookup is scoped to
 * the caller's organization (another organization's webhook is a 404). The signing secret is
 * generated here, returned once (on create and on rotation) and stored encrypted; header values
 * are stored encrypted and masked in every response.
 */
import type { AppContext } from '../context';
import { NotFoundError, StorageError, ValidationError } from '../errors';
import { nextId } from '../db/counters';
import { encodeCursor, decodeCursor } from '../db/repo-common';
import { getProject } from '../db/repo-projects';
import { deleteWebhook, getWebhook, listDeliveries, listOrgWebhooks, putWebhook, updateWebhook, type DeliveryItem, type DeliveryStatus, type WebhookItem } from '../db/repo-webhooks';
import type { Principal } from '../http/auth';
import { checkEndpoint } from '../storage/endpoint-guard';
import { assertStorableRawFields, parseId, parseWith } from '../api/validation';
import { ACTIONS, isAction } from './actions';
import { RESERVED_HEADERS } from './deliver';
import { newWebhookSecret } from './signature';
import { WebhookPatchSchema, WebhookWriteSchema, type WebhookWrite } from './schemas';

/** What responses show instead of a header value; sending it back keeps the stored value. */
export const MASKED_HEADER_VALUE = '********';

/** How long the secret before a rotation keeps signing. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

const MAX_HEADERS = 10;

/** The API shape of a webhook (no secret). */
export function serializeWebhook(w: WebhookItem): Record<string, unknown> {
  return {
    id: w.id,
    organization: w.orgId,
    project: w.project,
    url: w.url,
    send_payload: w.send_payload,
    send_for_all_actions: w.send_for_all_actions,
    headers: Object.fromEntries(w.header_names.map((n) => [n, MASKED_HEADER_VALUE])),
    is_active: w.is_active,
    consecutive_failures: w.consecutive_failures ?? 0,
    actions: w.actions,
    created_at: w.created_at,
    updated_at: w.updated_at,
  };
}

/** The caller's webhook. @throws NotFoundError */
async function getOwnedWebhook(app: AppContext, principal: Principal, id: number | undefined): Promise<WebhookItem> {
  const w = id === undefined ? undefined : await getWebhook(app.db, id);
  if (!w || w.orgId !== principal.orgId) throw new NotFoundError('Not found.');
  return w;
}

/** `url`: http or https, and through the SSRF guard. @throws ValidationError under `url` */
async function checkUrl(app: AppContext, url: string): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw ValidationError.field('url', 'Enter a valid URL.');
  }
  if (!['http:', 'https:'].includes(parsed.protocol) || !parsed.hostname) throw ValidationError.field('url', 'Enter a valid URL (http or https).');
  try {
    await checkEndpoint(url, 'url', { allowedEndpoints: app.env.allowedEndpoints });
  } catch (e) {
    // A name that does not resolve yet may resolve later: delivery retries it.
    if (e instanceof StorageError && e.code === 'unreachable') return;
    throw ValidationError.field('url', (e as Error).message);
  }
}

/** Label Studio's header rules, plus our reserved names. Masked values keep the stored ones. */
function checkHeaders(headers: Record<string, unknown>, stored: Record<string, string>): Record<string, string> {
  const errors: string[] = [];
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) errors.push(`At most ${MAX_HEADERS} headers.`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!/^[a-zA-Z0-9-_]+$/.test(k)) errors.push(`Header name "${k}" may contain only letters, digits, "-" and "_".`);
    else if (RESERVED_HEADERS.includes(k.toLowerCase()) || k.toLowerCase().startsWith('x-labelsync-')) errors.push(`Header "${k}" is set by labelsync and cannot be overridden.`);
    else if (typeof v !== 'string') errors.push(`Header "${k}" must have a string value.`);
    else out[k] = v === MASKED_HEADER_VALUE && k in stored ? stored[k] : v;
  }
  if (errors.length) throw new ValidationError({ headers: errors });
  return out;
}

/** Known action names, duplicates collapsed; no organization-only action on a project webhook. */
function checkActions(actions: string[], project: number | null): string[] {
  const bad = actions.filter((a) => !isAction(a));
  if (bad.length) throw new ValidationError({ actions: bad.map((a) => `"${a}" is not a valid choice.`) });
  const unique = [...new Set(actions)];
  if (project !== null && unique.some((a) => ACTIONS[a as keyof typeof ACTIONS].organizationOnly)) {
    throw new ValidationError({ non_field_errors: ["Project webhook can't contain organization-only action."] });
  }
  return unique;
}

async function encryptHeaders(app: AppContext, headers: Record<string, string>): Promise<{ header_names: string[]; headers_enc: string | null }> {
  const names = Object.keys(headers);
  return { header_names: names, headers_enc: names.length ? await app.secretBox.encrypt(JSON.stringify(headers)) : null };
}

/** The caller's project, or a 404 in Label Studio's words. */
async function ownedProjectId(app: AppContext, principal: Principal, id: number): Promise<number> {
  const p = await getProject(app.db, id);
  if (!p || p.orgId !== principal.orgId) throw new NotFoundError('Project not found.');
  return p.id;
}

/** `GET /api/webhooks/?project=`: an array; `project=null` selects organization-level webhooks. */
export async function listWebhooks(app: AppContext, principal: Principal, query: Record<string, string>): Promise<Record<string, unknown>[]> {
  let all = await listOrgWebhooks(app.db, principal.orgId);
  if (query.project !== undefined && query.project !== '') {
    if (query.project === 'null') all = all.filter((w) => w.project === null);
    else {
      const id = parseId(query.project, 'project');
      const p = await getProject(app.db, id);
      if (!p || p.orgId !== principal.orgId) throw ValidationError.field('project', 'Select a valid choice. That choice is not one of the available choices.');
      all = all.filter((w) => w.project === id);
    }
  }
  return all.map(serializeWebhook);
}

export async function getOwnedWebhookApi(app: AppContext, principal: Principal, id: number | undefined): Promise<Record<string, unknown>> {
  return serializeWebhook(await getOwnedWebhook(app, principal, id));
}

/** `POST /api/webhooks/`: answers the webhook with its `secret` (shown this once). @throws ValidationError, NotFoundError */
export async function createWebhook(app: AppContext, principal: Principal, body: unknown): Promise<Record<string, unknown>> {
  assertStorableRawFields(body, ['headers']);
  const input = parseWith(WebhookWriteSchema, body ?? {});
  const project = input.project === undefined || input.project === null ? null : await ownedProjectId(app, principal, input.project);
  const actions = checkActions(input.actions ?? [], project);
  const headers = checkHeaders(input.headers ?? {}, {});
  await checkUrl(app, input.url);
  const secret = newWebhookSecret();
  const now = new Date().toISOString();
  const enc = await encryptHeaders(app, headers);
  const w: WebhookItem = {
    kind: 'webhook',
    id: await nextId(app.db, 'webhook'),
    orgId: principal.orgId,
    project,
    url: input.url,
    send_payload: input.send_payload ?? true,
    send_for_all_actions: input.send_for_all_actions ?? true,
    header_names: enc.header_names,
    ...(enc.headers_enc ? { headers_enc: enc.headers_enc } : {}),
    is_active: input.is_active ?? true,
    consecutive_failures: 0,
    actions,
    secret_enc: await app.secretBox.encrypt(secret),
    created_at: now,
    updated_at: now,
  };
  await putWebhook(app.db, w);
  return { ...serializeWebhook(w), secret };
}

/**
 * `PATCH` (and `PUT`, which requires `url`) `/api/webhooks/{id}/`. `project` is ignored; an
 * absent `actions` leaves them unchanged (Label Studio clears them). Changing `url` or `headers`,
 * or re-activating, resets `consecutive_failures`. `rotate_secret: true` answers the new `secret`.
 * @throws ValidationError, NotFoundError
 */
export async function updateWebhookApi(app: AppContext, principal: Principal, id: number | undefined, body: unknown, opts: { full: boolean }): Promise<Record<string, unknown>> {
  const w = await getOwnedWebhook(app, principal, id);
  assertStorableRawFields(body, ['headers']);
  const input: Partial<WebhookWrite> = parseWith(opts.full ? WebhookWriteSchema : WebhookPatchSchema, body ?? {});
  const actions = input.actions === undefined ? undefined : checkActions(input.actions, w.project);
  const stored = w.headers_enc ? (JSON.parse(await app.secretBox.decrypt(w.headers_enc)) as Record<string, string>) : {};
  const headers = input.headers === undefined ? undefined : checkHeaders(input.headers, stored);
  if (input.url !== undefined) await checkUrl(app, input.url);
  const reset = (input.url !== undefined && input.url !== w.url) || headers !== undefined || (input.is_active === true && !w.is_active);
  const secret = input.rotate_secret ? newWebhookSecret() : undefined;
  const updated = await updateWebhook(app.db, w.id, {
    url: input.url,
    send_payload: input.send_payload,
    send_for_all_actions: input.send_for_all_actions,
    is_active: input.is_active,
    actions,
    ...(headers ? await encryptHeaders(app, headers) : {}),
    ...(reset ? { consecutive_failures: 0 } : {}),
    ...(secret
      ? { secret_enc: await app.secretBox.encrypt(secret), previous_secret_enc: w.secret_enc, previous_secret_until: new Date(Date.now() + ROTATION_OVERLAP_MS).toISOString() }
      : {}),
  } as Parameters<typeof updateWebhook>[2]);
  if (!updated) throw new NotFoundError('Not found.');
  return { ...serializeWebhook(updated), ...(secret ? { secret } : {}) };
}

export async function deleteWebhookApi(app: AppContext, principal: Principal, id: number | undefined): Promise<void> {
  const w = await getOwnedWebhook(app, principal, id);
  await deleteWebhook(app.db, w.id);
}

/** The API shape of a delivery. */
export function serializeDelivery(d: DeliveryItem): Record<string, unknown> {
  return { id: d.id, event_id: d.event_id, action: d.action, status: d.status, attempts: d.attempts, response_status: d.response_status, error: d.error, created_at: d.created_at, updated_at: d.updated_at };
}

const STATUSES: DeliveryStatus[] = ['pending', 'delivered', 'failed'];

/**
 * `GET /api/webhooks/{id}/deliveries?status=&page_size=&cursor=`: newest first,
 * `{results, next}` (`next` is the path of the following page, or null).
 * @throws ValidationError, NotFoundError
 */
export async function listWebhookDeliveries(app: AppContext, principal: Principal, id: number | undefined, query: Record<string, string>): Promise<{ results: Record<string, unknown>[]; next: string | null }> {
  const w = await getOwnedWebhook(app, principal, id);
  const status = query.status as DeliveryStatus | undefined;
  if (status !== undefined && !STATUSES.includes(status)) throw ValidationError.field('status', `Select one of ${STATUSES.join(', ')}.`);
  const limit = query.page_size === undefined ? 50 : Math.min(parseId(query.page_size, 'page_size'), 200);
  let before: string | undefined;
  if (query.cursor) {
    const c = decodeCursor(query.cursor);
    if (typeof c.before !== 'string' || c.w !== w.id) throw ValidationError.field('cursor', 'Invalid cursor.');
    before = c.before;
  }
  const page = await listDeliveries(app.db, w.id, { limit, before, status });
  const last = page.items[page.items.length - 1];
  const params = new URLSearchParams({ page_size: String(limit), ...(status ? { status } : {}), cursor: last ? encodeCursor({ w: w.id, before: last.id }) : '' });
  return { results: page.items.map(serializeDelivery), next: page.hasMore && last ? `/api/webhooks/${w.id}/deliveries?${params}` : null };
}
