/**
 * Webhooks through the real Lambda handlers against DynamoDB Local: Label Studio's routes, fields,
 * validation and organization scoping; delivery to a real HTTP receiver on 127.0.0.1 with signature
 * verification, retries, dead-lettering and the SSRF guard. There is no SQS emulator here: the app
 * delivers through its in-process queue, which feeds the same worker the SQS-triggered function runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as projectsHandler } from '../../functions/api/projects';
import { handler as webhooksHandler } from '../../functions/api/webhooks';
import { verifySignature } from '../../shared/webhooks/signature';
import { client, newTenant, patchApp, useTestEnvironment, type ApiHandler } from './api-harness';
import { eventually, startReceiver, type Receiver } from './webhook-receiver';

const LABEL_CONFIG = '<View><Image name="i" value="$image"/></View>';
type Api = ReturnType<typeof client>;

let rx: Receiver;
let a: { projects: Api; hooks: Api };
let b: { projects: Api; hooks: Api };
const anonymous = client(webhooksHandler as unknown as ApiHandler);

const apis = (token: string) => ({ projects: client(projectsHandler as unknown as ApiHandler, token), hooks: client(webhooksHandler as unknown as ApiHandler, token) });

beforeAll(async () => {
  useTestEnvironment();
  // Fast retries, three attempts, and the receiver's loopback address allowed past the SSRF guard.
  patchApp({}, { LABELSYNC_ALLOWED_ENDPOINTS: '127.0.0.1', LABELSYNC_WEBHOOK_RETRY_BASE_MS: '40', LABELSYNC_WEBHOOK_MAX_ATTEMPTS: '3', LABELSYNC_WEBHOOK_TIMEOUT_MS: '5000', LABELSYNC_WEBHOOK_MAX_CONSECUTIVE_FAILURES: '2' });
  rx = await startReceiver();
  a = apis((await newTenant('webhooks-a')).token);
  b = apis((await newTenant('webhooks-b')).token);
});

afterAll(async () => {
  await rx?.close();
});

async function project(api = a): Promise<number> {
  return (await api.projects('POST', '/api/projects', { title: 'w', label_config: LABEL_CONFIG })).json.id;
}

async function hook(body: Record<string, unknown>, api = a) {
  const r = await api.hooks('POST', '/api/webhooks/', body);
  expect(r.status, r.text).toBe(201);
  return r.json as { id: number; secret: string } & Record<string, unknown>;
}

async function deliveries(id: number, query = '', api = a) {
  return (await api.hooks('GET', `/api/webhooks/${id}/deliveries${query}`)).json as { results: Record<string, unknown>[]; next: string | null };
}

describe('webhook configuration', () => {
  it('creates, lists, retrieves, patches, puts and deletes with Label Studio fields; the secret is shown once', async () => {
    const p = await project();
    const created = await hook({ project: p, url: rx.url('/crud'), send_for_all_actions: false, actions: ['TASKS_CREATED', 'TASKS_CREATED', 'ANNOTATION_CREATED'], headers: { Authorization: 'Bearer abc' } });
    expect(created).toMatchObject({ organization: expect.any(String), project: p, url: rx.url('/crud'), send_payload: true, send_for_all_actions: false, is_active: true, consecutive_failures: 0, headers: { Authorization: '********' } });
    expect(created.secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect([...(created.actions as string[])].sort()).toEqual(['ANNOTATION_CREATED', 'TASKS_CREATED']);
    expect(Object.keys(created).sort()).toEqual(['actions', 'consecutive_failures', 'created_at', 'headers', 'id', 'is_active', 'organization', 'project', 'secret', 'send_for_all_actions', 'send_payload', 'updated_at', 'url']);

    const got = await a.hooks('GET', `/api/webhooks/${created.id}/`);
    expect(got.status).toBe(200);
    expect(got.json).not.toHaveProperty('secret');
    expect(got.text).not.toContain('Bearer abc');
    const listed = (await a.hooks('GET', `/api/webhooks?project=${p}`)).json;
    expect(Array.isArray(listed)).toBe(true);
    expect(listed.map((w: { id: number }) => w.id)).toEqual([created.id]);

    // PATCH without actions leaves them (Label Studio would clear them); project is read-only.
    const patched = await a.hooks('PATCH', `/api/webhooks/${created.id}`, { is_active: false, project: 12345 });
    expect(patched.json).toMatchObject({ is_active: false, project: p });
    expect([...patched.json.actions].sort()).toEqual(['ANNOTATION_CREATED', 'TASKS_CREATED']);
    expect((await a.hooks('PUT', `/api/webhooks/${created.id}`, { is_active: true })).json.validation_errors).toHaveProperty('url');
    const put = await a.hooks('PUT', `/api/webhooks/${created.id}`, { url: rx.url('/crud2'), actions: ['TASKS_DELETED'] });
    expect(put.json).toMatchObject({ url: rx.url('/crud2'), actions: ['TASKS_DELETED'], headers: { Authorization: '********' } });

    const rotated = await a.hooks('PATCH', `/api/webhooks/${created.id}`, { rotate_secret: true });
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(created.secret);

    expect((await a.hooks('DELETE', `/api/webhooks/${created.id}`)).status).toBe(204);
    expect((await a.hooks('GET', `/api/webhooks/${created.id}`)).status).toBe(404);
  });

  it('keeps organizations apart: another organization sees, changes and deletes nothing', async () => {
    const p = await project();
    const w = await hook({ project: p, url: rx.url('/scoped') });
    for (const [m, body] of [['GET'], ['PATCH', { is_active: false }], ['DELETE']] as const) expect((await b.hooks(m, `/api/webhooks/${w.id}`, body)).status).toBe(404);
    expect((await b.hooks('GET', `/api/webhooks/${w.id}/deliveries`)).status).toBe(404);
    expect((await b.hooks('GET', '/api/webhooks')).json.map((x: { id: number }) => x.id)).not.toContain(w.id);
    // A project of another organization is not found, on create and as a filter.
    expect((await b.hooks('POST', '/api/webhooks', { project: p, url: rx.url('/x') })).status).toBe(404);
    expect((await b.hooks('GET', `/api/webhooks?project=${p}`)).status).toBe(400);
    expect((await a.hooks('GET', `/api/webhooks/${w.id}`)).status).toBe(200);
  });

  it('refuses bad fields with a 400 naming each', async () => {
    const p = await project();
    const bad = async (body: Record<string, unknown>) => {
      const r = await a.hooks('POST', '/api/webhooks', { project: p, url: rx.url('/v'), ...body });
      expect(r.status, r.text).toBe(400);
      return Object.keys(r.json.validation_errors);
    };
    expect(await bad({ url: undefined })).toEqual(['url']);
    expect(await bad({ url: 'ftp://example.com/x' })).toEqual(['url']);
    expect(await bad({ url: 'not a url' })).toEqual(['url']);
    expect(await bad({ headers: { 'bad name': 'x' } })).toEqual(['headers']);
    expect(await bad({ headers: { a: 1 } })).toEqual(['headers']);
    expect(await bad({ headers: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`h${i}`, 'v'])) })).toEqual(['headers']);
    expect(await bad({ headers: { 'Content-Type': 'text/plain' } })).toEqual(['headers']);
    expect(await bad({ headers: { 'X-Labelsync-Signature': 'forged' } })).toEqual(['headers']);
    expect(await bad({ actions: ['NOPE'] })).toEqual(['actions']);
    expect(await bad({ actions: ['PROJECT_CREATED'] })).toEqual(['non_field_errors']);
    expect(await bad({ send_payload: 'yes' })).toEqual(['send_payload']);
  });

  it('refuses prototype keys in headers with a 400 naming headers, on create and on patch', async () => {
    const p = await project();
    // Sent as raw JSON: an object literal's __proto__ would set the prototype, not an own key.
    for (const key of ['__proto__', 'constructor']) {
      const raw = `{"project":${p},"url":${JSON.stringify(rx.url('/v'))},"headers":{"X-A":"1","${key}":{"X-B":"2"}}}`;
      const r = await a.hooks('POST', '/api/webhooks', raw);
      expect(r.status, r.text).toBe(400);
      expect(Object.keys(r.json.validation_errors)).toEqual(['headers']);
    }
    const made = await a.hooks('POST', '/api/webhooks', { project: p, url: rx.url('/v') });
    expect(made.status, made.text).toBe(201);
    const patched = await a.hooks('PATCH', `/api/webhooks/${made.json.id}`, '{"headers":{"__proto__":{"X-B":"2"}}}');
    expect(patched.status, patched.text).toBe(400);
    expect(Object.keys(patched.json.validation_errors)).toEqual(['headers']);
  });

  it('refuses private, loopback and metadata URLs (SSRF guard, same allowlist as storages)', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/hook', 'http://[::1]:8080/', 'http://0xa9fea9fe/', 'http://[::ffff:169.254.169.254]/']) {
      const r = await a.hooks('POST', '/api/webhooks', { url });
      expect(r.status, url).toBe(400);
      expect(r.json.validation_errors.url[0]).toContain('LABELSYNC_ALLOWED_ENDPOINTS');
    }
  });

  it('serves the action catalogue without authentication, labelsync actions included', async () => {
    const all = await anonymous('GET', '/api/webhooks/info/');
    expect(all.status).toBe(200);
    expect(all.json.TASKS_CREATED).toEqual({ name: 'Task created', description: '', key: 'tasks', 'organization-only': false });
    expect(all.json.STORAGE_SYNC_COMPLETED).toMatchObject({ key: 'storage_sync', 'organization-only': false });
    expect(Object.keys((await anonymous('GET', '/api/webhooks/info?organization-only=true')).json).sort()).toEqual(['PROJECT_CREATED', 'PROJECT_DELETED']);
    expect((await anonymous('GET', '/api/webhooks/')).status).toBe(401);
  });

  it('deleting a project deletes its webhooks, organization-level ones stay', async () => {
    const p = await project();
    const own = await hook({ project: p, url: rx.url('/gone') });
    const org = await hook({ url: rx.url('/org') });
    expect((await a.projects('DELETE', `/api/projects/${p}`)).status).toBe(204);
    expect((await a.hooks('GET', `/api/webhooks/${own.id}`)).status).toBe(404);
    expect((await a.hooks('GET', `/api/webhooks/${org.id}`)).json.project).toBeNull();
    expect((await a.hooks('GET', '/api/webhooks?project=null')).json.map((w: { id: number }) => w.id)).toContain(org.id);
  });
});

describe('webhook delivery', () => {
  it('POSTs TASKS_CREATED in Label Studio shape, signed with the webhook secret, with the user headers', async () => {
    const p = await project();
    const w = await hook({ project: p, url: rx.url('/signed'), headers: { 'X-Team': 'blue' } });
    const task = (await a.projects('POST', '/api/tasks', { project: p, data: { image: 's3://b/1.jpg' } })).json;
    const [req] = await rx.waitFor('/signed', 1);
    const body = JSON.parse(req.body);
    expect(body).toMatchObject({ action: 'TASKS_CREATED', tasks: [{ id: task.id, data: { image: 's3://b/1.jpg' }, project: p }], project: { id: p, title: 'w' } });
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-team']).toBe('blue');
    expect(req.headers['x-labelsync-event-id']).toEqual(expect.any(String));
    const signature = req.headers['x-labelsync-signature'] as string;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(signature, req.body, w.secret)).toBe(true);
    expect(verifySignature(signature, req.body + ' ', w.secret)).toBe(false);
    expect(verifySignature(signature, req.body, 'whsec_other')).toBe(false);
    const t = Number(/t=(\d+)/.exec(signature)![1]);
    expect(verifySignature(signature, req.body, w.secret, t + 301)).toBe(false);
    const [d] = (await eventually(async () => { const l = await deliveries(w.id); return l.results[0]?.status === 'delivered' ? l : undefined; })).results;
    expect(d).toMatchObject({ id: req.headers['x-labelsync-delivery-id'], action: 'TASKS_CREATED', status: 'delivered', attempts: 1, response_status: 200, error: null });
  });

  it('sends annotation and deletion events; send_payload=false sends only the action and the ids', async () => {
    const p = await project();
    await hook({ project: p, url: rx.url('/all') });
    await hook({ project: p, url: rx.url('/thin'), send_payload: false, send_for_all_actions: false, actions: ['ANNOTATION_CREATED'] });
    const task = (await a.projects('POST', '/api/tasks', { project: p, data: { image: 'x' } })).json;
    const ann = (await a.projects('POST', `/api/tasks/${task.id}/annotations`, { result: [{ v: 1 }] })).json;
    await a.projects('PATCH', `/api/annotations/${ann.id}`, { result: [{ v: 2 }] });
    await a.projects('DELETE', `/api/annotations/${ann.id}`);
    await a.projects('DELETE', `/api/tasks/${task.id}`);
    const all = (await rx.waitFor('/all', 5)).map((r) => JSON.parse(r.body));
    expect(all.map((x) => x.action).sort()).toEqual(['ANNOTATIONS_DELETED', 'ANNOTATION_CREATED', 'ANNOTATION_UPDATED', 'TASKS_CREATED', 'TASKS_DELETED']);
    expect(all.find((x) => x.action === 'ANNOTATION_CREATED')).toMatchObject({ annotation: { id: ann.id, result: [{ v: 1 }], task: task.id }, task: { id: task.id }, project: { id: p } });
    expect(all.find((x) => x.action === 'ANNOTATION_UPDATED').annotation.result).toEqual([{ v: 2 }]);
    expect(all.find((x) => x.action === 'ANNOTATIONS_DELETED')).toMatchObject({ annotations: [{ id: ann.id }] });
    expect(all.find((x) => x.action === 'TASKS_DELETED')).toMatchObject({ tasks: [{ id: task.id }] });
    const [thin] = await rx.waitFor('/thin', 1);
    expect(JSON.parse(thin.body)).toEqual({ action: 'ANNOTATION_CREATED', annotation: { id: ann.id }, project: { id: p } });
  });

  it('deleting all tasks of a project sends one TASKS_DELETED with every id, to the project webhook too', async () => {
    const p = await project();
    await hook({ project: p, url: rx.url('/all-gone'), send_for_all_actions: false, actions: ['TASKS_DELETED'] });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await a.projects('POST', '/api/tasks', { project: p, data: { image: `x${i}` } })).json.id);
    expect((await a.projects('DELETE', `/api/projects/${p}/tasks`)).status).toBeLessThan(300);
    const [req] = await rx.waitFor('/all-gone', 1);
    const body = JSON.parse(req.body);
    expect(body).toMatchObject({ action: 'TASKS_DELETED', project: { id: p } });
    expect(body.tasks.map((t: { id: number }) => t.id).sort((x: number, y: number) => x - y)).toEqual(ids);
  });

  it('retries a 500 with backoff, then records the delivery as delivered', async () => {
    const p = await project();
    rx.script('/flaky', [500, 503, 200]);
    const w = await hook({ project: p, url: rx.url('/flaky') });
    await a.projects('POST', '/api/tasks', { project: p, data: { image: 'x' } });
    const reqs = await rx.waitFor('/flaky', 3);
    expect(new Set(reqs.map((r) => r.headers['x-labelsync-delivery-id'])).size).toBe(1);
    expect(new Set(reqs.map((r) => r.body)).size).toBe(1);
    const [d] = (await eventually(async () => { const l = await deliveries(w.id); return l.results[0]?.status === 'delivered' ? l : undefined; })).results;
    expect(d).toMatchObject({ status: 'delivered', attempts: 3, response_status: 200 });
    expect((await a.hooks('GET', `/api/webhooks/${w.id}`)).json.consecutive_failures).toBe(0);
  });

  it('dead-letters a delivery after its attempts, lists it under ?status=failed, and deactivates after consecutive failures', async () => {
    const p = await project();
    rx.script('/down', [503]);
    const w = await hook({ project: p, url: rx.url('/down') });
    await a.projects('POST', '/api/tasks', { project: p, data: { image: 'x' } });
    const failed = await eventually(async () => { const l = await deliveries(w.id, '?status=failed'); return l.results.length ? l : undefined; });
    expect(failed.results[0]).toMatchObject({ action: 'TASKS_CREATED', status: 'failed', attempts: 3, response_status: 503, error: 'HTTP 503' });
    expect(rx.requests('/down')).toHaveLength(3);
    // The dead letter and the failure count are separate writes: wait for the count.
    const counted = await eventually(async () => { const r = (await a.hooks('GET', `/api/webhooks/${w.id}`)).json; return r.consecutive_failures === 1 ? r : undefined; });
    expect(counted).toMatchObject({ consecutive_failures: 1, is_active: true });
    // A 4xx other than 408/429 is not retried; the second dead letter in a row deactivates (limit 2 here).
    rx.script('/down', [404]);
    await a.projects('POST', '/api/tasks', { project: p, data: { image: 'y' } });
    const hookNow = await eventually(async () => { const r = (await a.hooks('GET', `/api/webhooks/${w.id}`)).json; // The count and the deactivation are two writes (ADD, then a conditional SET): wait for both.
      return r.consecutive_failures === 2 && r.is_active === false ? r : undefined; });
    expect(hookNow.is_active).toBe(false);
    expect((await deliveries(w.id, '?status=failed')).results.map((d) => d.attempts)).toEqual([1, 3]);
    expect((await a.hooks('GET', `/api/webhooks/${w.id}/deliveries?status=nope`)).status).toBe(400);
    // Re-activating resets the counter (Label Studio's rule).
    expect((await a.hooks('PATCH', `/api/webhooks/${w.id}`, { is_active: true })).json.consecutive_failures).toBe(0);
  });

  it('pages the delivery log newest first', async () => {
    const p = await project();
    const w = await hook({ project: p, url: rx.url('/paged') });
    for (let i = 0; i < 3; i++) await a.projects('POST', '/api/tasks', { project: p, data: { image: `p${i}` } });
    await rx.waitFor('/paged', 3);
    const first = await deliveries(w.id, '?page_size=2');
    expect(first.results).toHaveLength(2);
    expect(first.next).toEqual(expect.stringContaining(`/api/webhooks/${w.id}/deliveries?`));
    const second = await deliveries(w.id, first.next!.slice(first.next!.indexOf('?')));
    expect(second.results).toHaveLength(1);
    expect(second.next).toBeNull();
    const ids = [...first.results, ...second.results].map((d) => d.id as string);
    expect(ids).toEqual([...ids].sort().reverse());
  });

  it('never blocks or fails the request that caused the event: a receiver that never answers', async () => {
    // A long delivery timeout: a delivery made inside the request would hold it for a minute.
    patchApp({}, { LABELSYNC_WEBHOOK_TIMEOUT_MS: '60000' });
    try {
      const p = await project();
      rx.script('/hang', ['hang']);
      await hook({ project: p, url: rx.url('/hang') });
      const started = Date.now();
      const r = await a.projects('POST', '/api/tasks', { project: p, data: { image: 'x' } });
      const elapsed = Date.now() - started;
      expect(r.status).toBe(201);
      await rx.waitFor('/hang', 1);
      expect(elapsed).toBeLessThan(30_000);
    } finally {
      patchApp({}, { LABELSYNC_WEBHOOK_TIMEOUT_MS: '5000' });
    }
  });
});
