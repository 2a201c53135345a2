import { beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/projects';
import { client, newTenant, useTestEnvironment, type ApiResult } from './api-harness';

let api: ReturnType<typeof client>;
let other: ReturnType<typeof client>;
let anon: ReturnType<typeof client>;

beforeAll(async () => {
  useTestEnvironment();
  api = client(handler, (await newTenant('projects')).token);
  other = client(handler, (await newTenant('projects-other')).token);
  anon = client(handler);
});

const LABEL_CONFIG = '<View><Header value="Title"/><Image name="img" value="$image"/><Text name="t" value="$text"/><Choices name="c" toName="img"><Choice value="A"/></Choices></View>';

async function newProject(extra: Record<string, unknown> = {}): Promise<ApiResult['json']> {
  const r = await api('POST', '/api/projects', { title: 'p', label_config: LABEL_CONFIG, ...extra });
  expect(r.status).toBe(201);
  return r.json;
}

describe('projects', () => {
  it('creates a project and keeps the label config data keys in order', async () => {
    const p = await newProject({ title: 'images', description: 'd' });
    expect(p).toMatchObject({ title: 'images', description: 'd', label_config: LABEL_CONFIG, data_keys: ['image', 'text'], task_number: 0 });
    expect(Number.isInteger(p.id)).toBe(true);
  });

  it('answers with and without the trailing slash, never redirecting', async () => {
    const p = await newProject();
    for (const path of [`/api/projects/${p.id}`, `/api/projects/${p.id}/`]) {
      const r = await api('GET', path);
      expect(r.status).toBe(200);
      expect(r.json.id).toBe(p.id);
    }
    expect((await api('POST', '/api/projects/', { title: 'slash' })).status).toBe(201);
  });

  it('lists the organization projects in LS pagination shape, page by page', async () => {
    const mine = await newProject({ title: 'listed' });
    const r = await api('GET', '/api/projects?page_size=2');
    expect(r.status).toBe(200);
    expect(r.json.results.length).toBeLessThanOrEqual(2);
    expect(r.json.count).toBeGreaterThanOrEqual(3);
    const all: number[] = [];
    for (let page = 1; page <= Math.ceil(r.json.count / 2); page++) {
      const pr = await api('GET', `/api/projects?page=${page}&page_size=2`);
      all.push(...pr.json.results.map((x: { id: number }) => x.id));
    }
    expect(new Set(all).size).toBe(r.json.count);
    expect(all).toContain(mine.id);
    expect((await api('GET', `/api/projects?page=${Math.ceil(r.json.count / 2) + 1}&page_size=2`)).status).toBe(404);
    const theirs = await other('GET', '/api/projects');
    expect(theirs.json.results.map((x: { id: number }) => x.id)).not.toContain(mine.id);
  });

  it('patches title and label config, re-deriving the data keys', async () => {
    const p = await newProject();
    const r = await api('PATCH', `/api/projects/${p.id}`, { title: 'renamed', label_config: '<View><Audio name="a" value="$audio"/></View>' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ title: 'renamed', data_keys: ['audio'] });
    expect((await api('GET', `/api/projects/${p.id}`)).json.title).toBe('renamed');
  });

  it('rejects invalid fields per field with the LS error shape', async () => {
    const r = await api('POST', '/api/projects', { title: 'x'.repeat(51), label_config: 'not xml' });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ status_code: 400, detail: 'Validation error' });
    expect(Object.keys(r.json.validation_errors).sort()).toEqual(['label_config', 'title']);
  });

  it('deletes a project with its tasks and annotations', async () => {
    const p = await newProject();
    const imp = await api('POST', `/api/projects/${p.id}/import`, [{ data: { image: 'a' }, annotations: [{ result: [] }] }, { image: 'b' }]);
    expect(imp.status).toBe(201);
    const tasks = (await api('GET', `/api/tasks?project=${p.id}`)).json.tasks;
    const ann = (await api('GET', `/api/tasks/${tasks[0].id}/annotations`)).json[0];
    expect((await api('DELETE', `/api/projects/${p.id}/`)).status).toBe(204);
    expect((await api('GET', `/api/projects/${p.id}`)).status).toBe(404);
    expect((await api('GET', `/api/tasks/${tasks[1].id}`)).status).toBe(404);
    expect((await api('GET', `/api/annotations/${ann.id}`)).status).toBe(404);
  });

  it("answers 404 for another organization's project, task and annotation", async () => {
    const p = await newProject();
    await api('POST', `/api/projects/${p.id}/import`, [{ data: { image: 'x' }, annotations: [{ result: [] }] }]);
    const task = (await api('GET', `/api/tasks?project=${p.id}`)).json.tasks[0];
    const ann = (await api('GET', `/api/tasks/${task.id}/annotations`)).json[0];
    for (const [m, path, body] of [
      ['GET', `/api/projects/${p.id}`],
      ['PATCH', `/api/projects/${p.id}`, { title: 'stolen' }],
      ['DELETE', `/api/projects/${p.id}`],
      ['POST', `/api/projects/${p.id}/import`, [{ image: 'y' }]],
      ['GET', `/api/tasks?project=${p.id}`],
      ['GET', `/api/tasks/${task.id}`],
      ['DELETE', `/api/tasks/${task.id}`],
      ['GET', `/api/tasks/${task.id}/annotations`],
      ['POST', `/api/tasks/${task.id}/annotations`, { result: [] }],
      ['GET', `/api/annotations/${ann.id}`],
      ['PATCH', `/api/annotations/${ann.id}`, { result: [] }],
      ['DELETE', `/api/annotations/${ann.id}`],
    ] as [string, string, unknown?][]) {
      const r = await other(m, path, body);
      expect(r.status, `${m} ${path}`).toBe(404);
    }
    expect((await api('GET', `/api/projects/${p.id}`)).json.title).toBe('p');
    expect((await api('GET', `/api/annotations/${ann.id}`)).status).toBe(200);
  });
});

describe('protocol errors', () => {
  it('requires a token (401) and rejects unknown tokens', async () => {
    expect((await anon('GET', '/api/projects')).status).toBe(401);
    const bad = client(handler, 'f'.repeat(40));
    const r = await bad('GET', '/api/projects');
    expect(r.status).toBe(401);
    expect(r.json.status_code).toBe(401);
  });

  it('answers 404 for unknown routes and ids, 405 for wrong methods', async () => {
    expect((await api('GET', '/api/projects/1/nothing-here')).status).toBe(404);
    expect((await api('GET', '/api/projects/99999999')).status).toBe(404);
    expect((await api('GET', '/api/projects/abc')).status).toBe(404);
    const r = await api('PUT', '/api/projects');
    expect(r.status).toBe(405);
    expect((await api('POST', '/api/tasks/1')).status).toBe(405);
  });

  it('answers 400 for malformed JSON, 413 for oversized bodies, 400 for deep nesting', async () => {
    const r = await api('POST', '/api/projects', '{"title": ');
    expect(r.status).toBe(400);
    expect(r.json.validation_errors.non_field_errors[0]).toMatch(/JSON parse error/);
    const big = await api('POST', '/api/projects', JSON.stringify({ title: 'x', description: 'y'.repeat(11 * 1024 * 1024) }));
    expect(big.status).toBe(413);
    const deep = '['.repeat(100) + ']'.repeat(100);
    expect((await api('POST', '/api/projects', deep)).status).toBe(400);
    expect((await api('POST', '/api/projects', '[1,2]')).status).toBe(400);
  });

  it('accepts a base64-encoded body', async () => {
    const r = await api('POST', '/api/projects', Buffer.from(JSON.stringify({ title: 'b64' })));
    expect(r.status).toBe(201);
    expect(r.json.title).toBe('b64');
  });
});
