/**
 * Tasks and annotations through the projects Lambda handler: import shapes, cursor and page
 * pagination over 1,000+ tasks, annotation writes keeping the task counters right.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/projects';
import { client, newTenant, useTestEnvironment } from './api-harness';

let api: ReturnType<typeof client>;

beforeAll(async () => {
  useTestEnvironment();
  api = client(handler, (await newTenant('tasks')).token);
});

async function project(label_config = '<View><Image name="i" value="$image"/></View>'): Promise<number> {
  return (await api('POST', '/api/projects', { title: 't', label_config })).json.id;
}

describe('import', () => {
  it('imports bare and wrapped tasks with annotations and predictions, answering like LS', async () => {
    const p = await project();
    const r = await api('POST', `/api/projects/${p}/import`, [
      { image: 's3://b/1.jpg' },
      { data: { image: 's3://b/2.jpg' }, annotations: [{ result: [{ v: 1 }], lead_time: 2.5 }, { result: [], was_cancelled: true }], predictions: [{ result: [] }], meta: { m: 1 } },
    ]);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ task_count: 2, annotation_count: 2, prediction_count: 1 });
    const tasks = (await api('GET', `/api/tasks?project=${p}`)).json;
    expect(tasks.total).toBe(2);
    expect(tasks.total_annotations).toBe(1);
    expect(tasks.total_predictions).toBe(1);
    const [a, b] = tasks.tasks;
    expect(a).toMatchObject({ data: { image: 's3://b/1.jpg' }, is_labeled: false, total_annotations: 0, project: p });
    expect(b).toMatchObject({ data: { image: 's3://b/2.jpg' }, meta: { m: 1 }, is_labeled: true, total_annotations: 1, cancelled_annotations: 1, total_predictions: 1 });
    const detail = (await api('GET', `/api/tasks/${b.id}/`)).json;
    expect(detail.annotations.map((x: { lead_time: number | null }) => x.lead_time)).toEqual([2.5, null]);
    expect((await api('GET', `/api/projects/${p}`)).json).toMatchObject({ task_number: 2, total_annotations_number: 1, total_predictions_number: 1 });
  });

  it('imports one object as one task', async () => {
    const p = await project();
    const r = await api('POST', `/api/projects/${p}/import/`, { image: 'x' });
    expect(r.json.task_count).toBe(1);
    expect(r.json).not.toHaveProperty('task_ids');
  });

  it('returns the new task ids with ?return_task_ids=1 (as the LS SDK asks)', async () => {
    const p = await project();
    const r = await api('POST', `/api/projects/${p}/import?return_task_ids=1`, [{ image: 'a' }, { image: 'b' }, { image: 'c' }]);
    expect(r.status).toBe(201);
    const listed = (await api('GET', `/api/tasks?project=${p}`)).json.tasks.map((t: { id: number }) => t.id);
    expect(r.json.task_ids).toEqual(listed);
  });

  it('rejects annotations without data, non-objects and empty imports, writing nothing', async () => {
    const p = await project();
    const r = await api('POST', `/api/projects/${p}/import`, [{ image: 'ok' }, { annotations: [] }, 5, { data: { a: 1 }, annotations: [{ result: 'x' }] }]);
    expect(r.status).toBe(400);
    expect(Object.keys(r.json.validation_errors).sort()).toEqual(['1', '2', '3.annotations.0.result']);
    expect((await api('GET', `/api/tasks?project=${p}`)).json.total).toBe(0);
    expect((await api('POST', `/api/projects/${p}/import`, [])).status).toBe(400);
    expect((await api('POST', `/api/projects/${p}/import`)).status).toBe(400);
  });

  it('refuses values DynamoDB cannot store (empty keys, huge or tiny numbers) with 400, never 500', async () => {
    const p = await project();
    for (const body of ['[{"": 1}]', '[{"a": {"": 2}}]', '[{"a": 1e300}]', '[{"a": 123456789012345678901234567890}]', '[{"a": 1e-200}]', '[{"data": {"a": 1}, "predictions": [{"score": 1e400}]}]']) {
      const r = await api('POST', `/api/projects/${p}/import`, body);
      expect(r.status, body).toBe(400);
      expect(Object.keys(r.json.validation_errors), body).toEqual(['0']);
    }
    await api('POST', `/api/projects/${p}/import`, [{ a: 9007199254740991, b: -0.5e-100, c: 0 }]);
    const [t] = (await api('GET', `/api/tasks?project=${p}`)).json.tasks;
    expect(t.data).toEqual({ a: 9007199254740991, b: -0.5e-100, c: 0 });
    for (const body of ['{"result": [{"": 1}]}', '{"result": [1e300]}', '{"result": [], "lead_time": 1e300}']) {
      const r = await api('POST', `/api/tasks/${t.id}/annotations`, body);
      expect(r.status, body).toBe(400);
    }
    const a = (await api('POST', `/api/tasks/${t.id}/annotations`, { result: [] })).json;
    expect((await api('PATCH', `/api/annotations/${a.id}`, '{"lead_time": -1e300}')).json.validation_errors.lead_time).toBeDefined();
  });

  it('renames $undefined$ to the first data key of the label config', async () => {
    const p = await project('<View><Image name="i" value="$img"/><Text name="t" value="$caption"/></View>');
    await api('POST', `/api/projects/${p}/import`, [{ $undefined$: 's3://b/k.png' }]);
    const t = (await api('GET', `/api/tasks?project=${p}`)).json.tasks[0];
    expect(t.data).toEqual({ img: 's3://b/k.png' });
    expect((await api('GET', `/api/tasks/${t.id}`)).json.data).toEqual({ img: 's3://b/k.png' });
  });
});

describe('task listing', () => {
  it('pages 1,200 tasks by cursor and by page number without duplicates or gaps, in id order', async () => {
    const p = await project();
    const tasks = Array.from({ length: 1200 }, (_, i) => ({ image: `s3://b/${i}.jpg`, n: i }));
    for (let i = 0; i < tasks.length; i += 600) expect((await api('POST', `/api/projects/${p}/import`, tasks.slice(i, i + 600))).status).toBe(201);
    const byCursor: number[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const r = await api('GET', `/api/tasks?project=${p}&page_size=250${next ? `&cursor=${next}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.json.total).toBe(1200);
      byCursor.push(...r.json.tasks.map((t: { data: { n: number } }) => t.data.n));
      next = r.json.next;
      pages++;
    } while (next);
    expect(pages).toBe(5);
    expect(byCursor).toEqual(tasks.map((t) => t.n));
    const byPage: number[] = [];
    for (let page = 1; page <= 12; page++) {
      const r = await api('GET', `/api/tasks?project=${p}&page=${page}&page_size=100`);
      byPage.push(...r.json.tasks.map((t: { data: { n: number } }) => t.data.n));
      if (page === 12) expect(r.json.next).toBeNull();
    }
    // Past the last page: LS's (DRF's) 404 "Invalid page.", which LS's SDK uses to stop paginating.
    const past = await api('GET', `/api/tasks?project=${p}&page=13&page_size=100`);
    expect(past.status).toBe(404);
    expect(past.json.detail).toBe('Invalid page.');
    expect((await api('GET', `/api/tasks?project=${p}&page=99999&page_size=100`)).status).toBe(404);
    expect(byPage).toEqual(byCursor);
    const ids = (await api('GET', `/api/tasks?project=${p}&page_size=1000`)).json.tasks.map((t: { id: number }) => t.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => a - b));
  });

  it('requires ?project and validates paging parameters; page 1 of an empty project is an empty 200', async () => {
    const p = await project();
    const empty = await api('GET', `/api/tasks?project=${p}&page=1`);
    expect(empty.status).toBe(200);
    expect(empty.json).toMatchObject({ tasks: [], total: 0, next: null });
    expect((await api('GET', `/api/tasks?project=${p}&page=2`)).status).toBe(404);
    expect((await api('GET', '/api/tasks')).json.validation_errors.project).toBeDefined();
    expect((await api('GET', `/api/tasks?project=${p}&page=0`)).status).toBe(400);
    expect((await api('GET', `/api/tasks?project=${p}&page_size=x`)).status).toBe(400);
    expect((await api('GET', `/api/tasks?project=${p}&cursor=garbage`)).status).toBe(400);
    expect((await api('GET', '/api/tasks?project=99999999')).status).toBe(404);
  });

  it('deletes a task (204) with its annotations and lowers the project counters', async () => {
    const p = await project();
    await api('POST', `/api/projects/${p}/import`, [{ data: { image: 'a' }, annotations: [{ result: [] }], predictions: [{ result: [] }] }, { image: 'b' }]);
    const [t] = (await api('GET', `/api/tasks?project=${p}`)).json.tasks;
    const ann = (await api('GET', `/api/tasks/${t.id}/annotations`)).json[0];
    expect((await api('DELETE', `/api/tasks/${t.id}/`)).status).toBe(204);
    expect((await api('GET', `/api/tasks/${t.id}`)).status).toBe(404);
    expect((await api('GET', `/api/annotations/${ann.id}`)).status).toBe(404);
    expect((await api('DELETE', `/api/tasks/${t.id}`)).status).toBe(404);
    expect((await api('GET', `/api/projects/${p}`)).json).toMatchObject({ task_number: 1, total_annotations_number: 0, total_predictions_number: 0 });
  });
});

describe('annotations', () => {
  it('creates, patches and deletes annotations, bumping version and keeping counters right', async () => {
    const p = await project();
    await api('POST', `/api/projects/${p}/import`, [{ image: 'a' }]);
    const [t] = (await api('GET', `/api/tasks?project=${p}`)).json.tasks;
    const a1 = await api('POST', `/api/tasks/${t.id}/annotations`, { result: [{ from_name: 'c', value: { choices: ['A'] } }], lead_time: 3 });
    expect(a1.status).toBe(201);
    expect(a1.json).toMatchObject({ task: t.id, project: p, version: 1, was_cancelled: false, ground_truth: false, lead_time: 3 });
    expect(Number.isInteger(a1.json.completed_by)).toBe(true);
    const a2 = (await api('POST', `/api/tasks/${t.id}/annotations/`, { result: [], was_cancelled: true })).json;
    const task = async () => (await api('GET', `/api/tasks/${t.id}`)).json;
    expect(await task()).toMatchObject({ is_labeled: true, total_annotations: 1, cancelled_annotations: 1 });

    const patched = await api('PATCH', `/api/annotations/${a1.json.id}`, { result: [{ v: 2 }], ground_truth: true });
    expect(patched.json).toMatchObject({ version: 2, ground_truth: true, result: [{ v: 2 }] });
    expect(patched.json.updated_at >= a1.json.updated_at).toBe(true);
    // Cancelling the only labeled annotation unlabels the task; un-cancelling the other relabels it.
    await api('PATCH', `/api/annotations/${a1.json.id}`, { was_cancelled: true });
    expect(await task()).toMatchObject({ is_labeled: false, total_annotations: 0, cancelled_annotations: 2 });
    await api('PATCH', `/api/annotations/${a2.id}/`, { was_cancelled: false });
    expect(await task()).toMatchObject({ is_labeled: true, total_annotations: 1, cancelled_annotations: 1 });
    expect((await api('GET', `/api/annotations/${a1.json.id}`)).json.version).toBe(3);

    expect((await api('DELETE', `/api/annotations/${a2.id}`)).status).toBe(204);
    expect(await task()).toMatchObject({ is_labeled: false, total_annotations: 0, cancelled_annotations: 1 });
    expect((await api('GET', `/api/tasks/${t.id}/annotations`)).json.map((x: { id: number }) => x.id)).toEqual([a1.json.id]);
    expect((await api('GET', `/api/projects/${p}`)).json.total_annotations_number).toBe(0);
  });

  it('validates annotation fields', async () => {
    const p = await project();
    await api('POST', `/api/projects/${p}/import`, [{ image: 'a' }]);
    const [t] = (await api('GET', `/api/tasks?project=${p}`)).json.tasks;
    const r = await api('POST', `/api/tasks/${t.id}/annotations`, { result: {}, was_cancelled: 'no', lead_time: 'slow' });
    expect(r.status).toBe(400);
    expect(Object.keys(r.json.validation_errors).sort()).toEqual(['lead_time', 'result', 'was_cancelled']);
    expect((await api('POST', '/api/tasks/99999999/annotations', { result: [] })).status).toBe(404);
    expect((await api('PATCH', '/api/annotations/99999999', { result: [] })).status).toBe(404);
  });

  it('keeps counters exact under concurrent creates and deletes', async () => {
    const p = await project();
    await api('POST', `/api/projects/${p}/import`, [{ image: 'a' }]);
    const [t] = (await api('GET', `/api/tasks?project=${p}`)).json.tasks;
    const created = await Promise.all(Array.from({ length: 10 }, () => api('POST', `/api/tasks/${t.id}/annotations`, { result: [] })));
    expect(created.map((c) => `${c.status} ${c.status === 201 ? '' : JSON.stringify(c.json)}`.trim()), 'each POST status').toEqual(Array(10).fill('201'));
    const deleted = await Promise.all(created.map((c) => api('DELETE', `/api/annotations/${c.json.id}`)));
    expect(deleted.map((d) => `${d.status} ${d.status === 204 ? '' : JSON.stringify(d.json)}`.trim()), 'each DELETE status').toEqual(Array(10).fill('204'));
    expect((await api('GET', `/api/tasks/${t.id}`)).json).toMatchObject({ is_labeled: false, total_annotations: 0 });
  });
});
