/**
 * Prototype keys in task data, meta, annotations and predictions. `JSON.parse` makes them own
 * properties, but the DynamoDB document marshaller assigns map keys (`__proto__` would be lost or
 * replace the map's prototype) and reads `value.constructor.name` as a type (an object under
 * `constructor` would turn the value into a Set, Map, boolean...). So `__proto__` keys and
 * object-valued `constructor` keys are refused per row (a 400 naming the element, a per-object
 * sync failure); `prototype` and other `constructor` values round-trip exactly (up to key order,
 * which no DynamoDB map keeps). A sync with odd objects among 20 good ones imports the good ones;
 * never a 500, never a poisoned chunk.
 * Sync failure messages never quote object bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as projectsHandler } from '../../functions/api/projects';
import { handler as storagesHandler } from '../../functions/api/storages';
import type { StorageConfig } from '../../shared/storage/types';
import { parseTaskFile } from '../../shared/sync/parse-tasks';
import { client, type ApiHandler } from '../integration/api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, type SyncHarness } from '../integration/sync-helpers';

/** Objects the marshaller cannot store faithfully, as JSON text. */
const REFUSED: string[] = [
  '{"image":"x","__proto__":{"a":1}}',
  '{"__proto__":"text","image":"y"}',
  '{"image":"x","nested":{"list":[{"__proto__":null}]}}',
  '{"image":"x","constructor":{"prototype":{"polluted":true}}}',
  '{"image":"x","constructor":{"name":"Set"}}',
];
/** Objects with prototype names as ordinary keys: stored and read back exactly. */
const KEPT: string[] = [
  '{"image":"x","prototype":{"a":1},"constructor":"Ferrari"}',
  '{"image":"x","nested":{"constructor":[1,{"prototype":null}],"c":{"constructor":7}}}',
];
/** Text of a non-JSON line that must not reach any failure message. */
const CONTENT = 'private-object-content-5e1f';

/** JSON text with keys sorted at every level: DynamoDB maps keep no key order. */
function canon(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sorted(x)])) : v;
  return JSON.stringify(sorted(typeof value === 'string' ? JSON.parse(value) : value));
}

let h: SyncHarness;
let storages: ReturnType<typeof client>;
let projects: ReturnType<typeof client>;

beforeAll(async () => {
  h = await startSyncHarness({ chunkSize: 50 });
  storages = client(storagesHandler as unknown as ApiHandler, h.token);
  projects = client(projectsHandler as unknown as ApiHandler, h.token);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
});

/** A task read through the API, its JSON values as canonical text. */
async function dataText(id: number): Promise<{ data: string; meta: string; predictions: string; status: number }> {
  const res = await projects('GET', `/api/tasks/${id}`);
  const raw = JSON.parse(res.text) as Record<string, unknown>;
  return { status: res.status, data: canon(raw.data), meta: canon(raw.meta), predictions: canon(raw.predictions) };
}

/** Every task of a project through the API, its data and predictions as canonical text. */
async function allTasks(projectId: number): Promise<{ id: number; data: string; predictions: string }[]> {
  const res = await projects('GET', `/api/tasks?project=${projectId}&page_size=1000`);
  expect(res.status, res.text).toBe(200);
  const raw = JSON.parse(res.text) as { tasks: { id: number; data: unknown; predictions: unknown }[] };
  return raw.tasks.map((t) => ({ id: t.id, data: canon(t.data), predictions: canon(t.predictions) }));
}

describe('prototype keys: sync', () => {
  it('odd objects among 20 good ones: the good and the kept ones import, each refused one fails alone, on every re-sync', async () => {
    const dir = join(h.root, `proto-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `good-${String(i).padStart(2, '0')}.json`), JSON.stringify({ image: `good-${i}` }));
    REFUSED.forEach((text, i) => writeFileSync(join(dir, `refused-${i}.json`), text));
    KEPT.forEach((text, i) => writeFileSync(join(dir, `kept-${i}.json`), text));
    writeFileSync(join(dir, 'mixed.jsonl'), `${KEPT[0]}\n${REFUSED[0]}\n${CONTENT} {"image":1}\n${KEPT[1]}\n`);
    writeFileSync(join(dir, 'wrapped-annotation.json'), `{"data":{"image":"w"},"annotations":[{"result":[{"__proto__":{"x":1}}]}]}`);
    writeFileSync(join(dir, 'wrapped-prediction.json'), `{"data":${KEPT[0]},"predictions":[{"result":[{"prototype":{"p":1}}]}]}`);
    const projectId = await newProject(h.orgId, ['image']);
    const config: StorageConfig = { type: 'localfiles', role: 'import', path: dir, use_blob_urls: false };
    const s = await newStorage(h.orgId, projectId, config);
    for (const attempt of [1, 2]) {
      expect((await storages('POST', `/api/storages/localfiles/${s.id}/sync`)).status).toBe(200);
      await h.starter.idle();
      const after = await storageOf(s.id);
      expect({ attempt, status: after.status }).toEqual({ attempt, status: 'completed_with_errors' });
      const failures = after.meta.failures as { key: string; reason: string }[];
      const reasons = Object.fromEntries(failures.map((f) => [f.key, f.reason]));
      expect(Object.keys(reasons).sort()).toEqual(['mixed.jsonl', 'refused-0.json', 'refused-1.json', 'refused-2.json', 'refused-3.json', 'refused-4.json', 'wrapped-annotation.json']);
      expect(reasons['refused-0.json']).toBe('Object keys must not be "__proto__".');
      expect(reasons['refused-3.json']).toBe('A "constructor" key must not hold an object.');
      expect(reasons['mixed.jsonl']).toMatch(/row 1: Object keys must not be "__proto__"|row 2: not valid JSON \(Unexpected token\)/);
      expect(JSON.stringify(after.meta) + String(after.traceback)).not.toContain(CONTENT.slice(0, 12));
      const tasks = await allTasks(projectId);
      expect(tasks).toHaveLength(20 + KEPT.length + 2 + 1);
      const texts = tasks.map((t) => t.data);
      for (let i = 0; i < 20; i++) expect(texts).toContain(`{"image":"good-${i}"}`);
      expect(texts.filter((t) => t === canon(KEPT[0]))).toHaveLength(3);
      expect(texts.filter((t) => t === canon(KEPT[1]))).toHaveLength(2);
      const predicted = tasks.find((t) => t.data === canon(KEPT[0]) && t.predictions !== '[]');
      expect(predicted?.predictions).toBe('[{"result":[{"prototype":{"p":1}}]}]');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a line that is not JSON is reported by row and reason, without its bytes', async () => {
    const dir = join(h.root, `proto-lines-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'rows.jsonl'), `{"image":"a"}\n{"image":"b"}\n{"image":"c"}\n{"${CONTENT}": nope}\n${CONTENT}\n`);
    const projectId = await newProject(h.orgId, ['image']);
    const s = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, use_blob_urls: false });
    expect((await storages('POST', `/api/storages/localfiles/${s.id}/sync`)).status).toBe(200);
    await h.starter.idle();
    const after = await storageOf(s.id);
    expect(after.status).toBe('completed_with_errors');
    const [failure] = after.meta.failures as { key: string; reason: string }[];
    expect(failure.reason).toMatch(/^row 3: not valid JSON \(Unexpected token\)/);
    const shown = JSON.stringify(after.meta) + String(after.traceback) + (await storages('GET', `/api/storages/localfiles/${s.id}`)).text;
    expect(shown).not.toContain('private-object');
    expect(shown).not.toContain('nope');
  });
});

describe('sync failure messages', () => {
  it('every kind of JSON syntax error is reported by row, reason and position, never with the text', async () => {
    const lines = ['SECRETx', '{"SECRET":1,}', '{"SECRET":1} SECRET', '{"SECRET":', '{SECRET:1}', '[1,"SECRET"', '"SECRET', '{"a":"SECRET\u0001"}', '{"SECRET": nope}', 'tSECRET'];
    const rows = await parseTaskFile('x.jsonl', (async function* () { yield lines.join('\n'); })());
    expect(rows).toHaveLength(lines.length);
    for (const r of rows) {
      expect(r.error).toMatch(new RegExp(`^row ${r.row_index}: not valid JSON \\(`));
      expect(r.error).not.toMatch(/SECRET|nope/);
    }
    expect(rows[1].error).toBe('row 1: not valid JSON (Expected double-quoted property name at position 12)');
    expect(rows[0].error).toBe('row 0: not valid JSON (Unexpected token)');
  });
});

describe('prototype keys: API', () => {
  let p: number;
  beforeAll(async () => {
    p = (await projects('POST', '/api/projects', { title: 'proto', label_config: '<View><Image name="i" value="$image"/></View>' })).json.id;
  });

  it('import: kept keys in data, meta and predictions round-trip exactly', async () => {
    const body = `[${KEPT.join(',')},{"data":${KEPT[0]},"meta":{"prototype":{"m":1},"constructor":2},"predictions":[{"result":[{"prototype":{"y":1}}],"constructor":"c"}],"annotations":[{"result":[{"constructor":[1],"prototype":1}]}]}]`;
    const res = await projects('POST', `/api/projects/${p}/import?return_task_ids=1`, body);
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ task_count: KEPT.length + 1, annotation_count: 1, prediction_count: 1 });
    const ids = res.json.task_ids as number[];
    for (let i = 0; i < KEPT.length; i++) expect((await dataText(ids[i])).data).toBe(canon(KEPT[i]));
    const wrapped = await dataText(ids[KEPT.length]);
    expect(wrapped).toMatchObject({ data: canon(KEPT[0]), meta: canon('{"prototype":{"m":1},"constructor":2}'), predictions: canon('[{"result":[{"prototype":{"y":1}}],"constructor":"c"}]') });
    const anns = await projects('GET', `/api/tasks/${ids[KEPT.length]}/annotations`);
    expect(canon((JSON.parse(anns.text) as { result: unknown }[])[0].result)).toBe(canon('[{"constructor":[1],"prototype":1}]'));
  });

  it('import: a refused key in data, meta, annotations or predictions → 400 naming the element, nothing imported', async () => {
    const before = (await allTasks(p)).length;
    const elements = [
      ...REFUSED,
      `{"data":{"image":"m"},"meta":{"__proto__":{"m":1}}}`,
      `{"data":{"image":"a"},"annotations":[{"result":[{"__proto__":[1]}]}]}`,
      `{"data":{"image":"p"},"predictions":[{"result":[],"constructor":{"name":"Map"}}]}`,
    ];
    for (const el of elements) {
      const res = await projects('POST', `/api/projects/${p}/import`, `[{"image":"fine"},${el}]`);
      expect(res.status, `${el}: ${res.text}`).toBe(400);
      expect(Object.keys(res.json.validation_errors), el).toEqual(['1']);
      expect(res.json.validation_errors['1'][0]).toMatch(/"__proto__"|"constructor"/);
    }
    expect((await allTasks(p)).length).toBe(before);
  });

  it('annotations: kept keys in result round-trip on create and patch; refused ones → 400 naming result', async () => {
    const taskId = (await projects('POST', `/api/projects/${p}/import?return_task_ids=1`, [{ image: 'a' }])).json.task_ids[0] as number;
    const result = '[{"prototype":{"a":1},"value":{"constructor":"c"}}]';
    const created = await projects('POST', `/api/tasks/${taskId}/annotations`, `{"result":${result}}`);
    expect(created.status, created.text).toBe(201);
    expect(canon((JSON.parse(created.text) as { result: unknown }).result)).toBe(canon(result));
    const patched = await projects('PATCH', `/api/annotations/${created.json.id}`, '{"result":[{"prototype":{"constructor":1}}]}');
    expect(patched.status, patched.text).toBe(200);
    const got = await projects('GET', `/api/annotations/${created.json.id}`);
    expect(canon((JSON.parse(got.text) as { result: unknown }).result)).toBe('[{"prototype":{"constructor":1}}]');
    for (const [method, url] of [['POST', `/api/tasks/${taskId}/annotations`], ['PATCH', `/api/annotations/${created.json.id}`]] as const) {
      for (const bad of ['{"result":[{"__proto__":{"a":1}}]}', '{"result":[{"value":{"constructor":{"name":"Boolean"}}}]}']) {
        const res = await projects(method, url, bad);
        expect(res.status, `${method} ${bad}: ${res.text}`).toBe(400);
        expect(Object.keys(res.json.validation_errors)).toEqual(['result']);
      }
    }
    // A prototype key among the annotation's own fields is an unknown field and changes nothing.
    const top = await projects('POST', `/api/tasks/${taskId}/annotations`, '{"result":[],"__proto__":{"ground_truth":true}}');
    expect(top.status, top.text).toBe(201);
    expect(top.json.ground_truth).toBe(false);
    const unchanged = await projects('GET', `/api/annotations/${created.json.id}`);
    expect(canon((JSON.parse(unchanged.text) as { result: unknown }).result)).toBe('[{"prototype":{"constructor":1}}]');
  });
});
