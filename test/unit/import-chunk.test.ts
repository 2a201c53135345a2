/**
 * The pure phases of an import chunk (shared/sync/import-chunk/): classification against links,
 * sorting of read results, id needs, item building, lost rows, the final link range, digests,
 * and the task/annotation item factory. No table involved.
 */
import { describe, expect, it } from 'vitest';
import type { ChunkEntry } from '../../shared/db/repo-chunks';
import { newTaskItems } from '../../shared/db/task-factory';
import { liveRows } from '../../shared/sync/import-chunk/apply-deletions';
import { buildItems, fileAnnotationFields } from '../../shared/sync/import-chunk/build-items';
import { classifyEntries, sameVersion } from '../../shared/sync/import-chunk/classify';
import { dedupe, importChunkDigest } from '../../shared/sync/import-chunk/digest';
import { finalRange } from '../../shared/sync/import-chunk/links';
import { idNeeds } from '../../shared/sync/import-chunk/plan-ids';
import { readObjects, sortReadResults } from '../../shared/sync/import-chunk/read-objects';
import type { ImportChunkContext, StepLink } from '../../shared/sync/import-chunk/types';
import { tombLostRows } from '../../shared/sync/import-chunk/write-items';
import { DEFAULT_PARSE_LIMITS } from '../../shared/sync/parse-tasks';

const ctx = (over: Partial<ImportChunkContext> = {}): ImportChunkContext => ({
  jobId: 'job-2', n: 3, storageId: 7, orgId: 'org', projectId: 11, ordered: true, deletions: 'keep', removeAnnotated: false, blob: false, dataKey: 'image', ...over,
});

const link = (key: string, over: Partial<StepLink> = {}): StepLink => ({
  kind: 'link', storageId: 7, key, etag: 'v1', single: true, rows: 1, idRanges: [[100, 1]], jobId: 'job-1', updated_at: 't0', ...over,
});

describe('classify phase', () => {
  it('sorts entries into new, changed, unchanged and already written by this attempt', () => {
    const entries: ChunkEntry[] = [{ k: 'new' }, { k: 'same', e: 'v1' }, { k: 'changed', e: 'v2' }, { k: 'mine', e: 'v9' }];
    const links = new Map<string, StepLink>([
      ['same', link('same')],
      ['changed', link('changed')],
      ['mine', link('mine', { jobId: 'job-2', chunk: 3, createdRows: 2, updatedRows: 1 })],
    ]);
    const c = classifyEntries(entries, links, ctx());
    expect(c.toRead.map((w) => w.e.k)).toEqual(['new', 'changed']);
    expect(c.counters).toEqual({ created: 2, updated: 1, unchanged: 1 });
    expect(c.touched).toEqual([]);
    expect(c.gone).toEqual([]);
  });

  it('marks unchanged links in mark-and-sweep and finds gone objects of an ordered range', () => {
    const links = new Map<string, StepLink>([['same', link('same')], ['gone', link('gone')], ['flagged', link('flagged', { object_exists: false })]]);
    const sweep = classifyEntries([{ k: 'same', e: 'v1' }], links, ctx({ ordered: false, deletions: 'remove' }));
    expect(sweep.touched).toEqual([{ ...link('same'), jobId: 'job-2', chunk: 3, createdRows: 0, updatedRows: 0 }]);
    expect(sweep.gone).toEqual([]);
    const flag = classifyEntries([{ k: 'same', e: 'v1' }], links, ctx({ deletions: 'flag' }));
    expect(flag.gone.map((l) => l.key)).toEqual(['gone']);
  });

  it('reads again an object whose last write left failed rows', () => {
    const c = classifyEntries([{ k: 'a', e: 'v1' }], new Map([['a', link('a', { failed: 1 })]]), ctx());
    expect(c.toRead.map((w) => w.e.k)).toEqual(['a']);
  });

  it('compares versions by etag (size when both have one), else by mtime and size', () => {
    expect(sameVersion({ etag: 'a', size: 1 }, { k: 'x', e: 'a', s: 1 })).toBe(true);
    expect(sameVersion({ etag: 'a', size: 1 }, { k: 'x', e: 'a', s: 2 })).toBe(false);
    expect(sameVersion({ mtime: 5, size: 1 }, { k: 'x', m: 5, s: 1 })).toBe(true);
    expect(sameVersion({}, { k: 'x' })).toBe(false);
  });
});

describe('read phase', () => {
  const opts = { readConcurrency: 2, maxTaskFileBytes: 1000, parseLimits: DEFAULT_PARSE_LIMITS, blobUri: (k: string) => `s3://b/${k}` };
  const provider = {
    read: async (key: string) => {
      if (key === 'bad') throw new Error('denied');
      return { body: (async function* () { yield Buffer.from(JSON.stringify({ image: key })); })() };
    },
  } as unknown as Parameters<typeof readObjects>[0];

  it('parses objects, reports failed reads by key, and makes one row per object in blob mode', async () => {
    const toRead = [{ e: { k: 'a' } }, { e: { k: 'bad' } }];
    const results = await readObjects(provider, toRead, ctx(), opts);
    expect(results[0]).toMatchObject({ rows: [{ row_index: null, task: { data: { image: 'a' } } }] });
    expect(results[1]).toEqual({ error: 'denied' });
    expect(await readObjects(provider, toRead, ctx({ blob: true }), opts)).toEqual([
      { rows: [{ row_index: null, task: { data: { image: 's3://b/a' } } }] },
      { rows: [{ row_index: null, task: { data: { image: 's3://b/bad' } } }] },
    ]);
  });

  it('keeps the tasks of an object whose content did not change under a new tag (link rewritten only)', () => {
    const toRead = [{ e: { k: 'a', e: 'v2' }, link: link('a', { hash: 'h' }) }, { e: { k: 'b' } }, { e: { k: 'c' }, link: link('c') }];
    const sorted = sortReadResults(toRead, [{ rows: [], hash: 'h' }, { rows: [], hash: 'x' }, { error: 'boom' }], ctx());
    expect(sorted.unchanged).toBe(1);
    expect(sorted.touched).toEqual([{ ...link('a', { hash: 'h' }), etag: 'v2', size: undefined, mtime: undefined, jobId: 'job-2', chunk: 3, createdRows: 0, updatedRows: 0 }]);
    expect(sorted.work.map((w) => w.e.k)).toEqual(['b']);
    expect(sorted.failures).toEqual([{ key: 'c', reason: 'boom' }]);
  });
});

describe('id plan and build phases', () => {
  const rows = (n: number, anns = 0) => Array.from({ length: n }, (_, i) => ({ row_index: i, task: { data: { i }, annotations: Array.from({ length: anns }, () => ({ result: [] })) } }));

  it('needs ids only for rows past what the link knew', () => {
    const needs = idNeeds([{ e: { k: 'a' }, rows: rows(3, 1) }, { e: { k: 'b' }, link: link('b', { rows: 2 }), rows: rows(3, 2) }, { e: { k: 'c' }, link: link('c', { rows: 2 }), rows: rows(2) }]);
    expect([...needs]).toEqual([['a', { tasks: 3, anns: 3 }], ['b', { tasks: 1, anns: 2 }]]);
  });

  it('builds new tasks with planned ids, updates known rows, and records the new link', () => {
    const work = [{ e: { k: 'f.json', e: 'v2' }, link: link('f.json', { single: false, rows: 1, idRanges: [[100, 1]] }), rows: [...rows(2, 1), { row_index: 2, error: 'bad row' }], hash: 'h2' }];
    const b = buildItems(work, { objects: { 'f.json': [200, 2, 500, 2] } }, ctx(), 'now');
    expect(b.updates).toEqual([{ id: 100, data: { i: 0 }, source: { storageId: 7, key: 'f.json', row_index: 0 }, unflag: false, counted: true }]);
    expect(b.items.map((i) => [i.kind, i.id])).toEqual([['task', 200], ['annotation', 500]]);
    expect(b.failures).toEqual([{ key: 'f.json', reason: 'bad row' }]);
    expect({ created: b.created, updated: b.updated, annotations: b.annotations, labeled: b.labeled }).toEqual({ created: 1, updated: 1, annotations: 1, labeled: 1 });
    expect(b.links[0]).toMatchObject({ key: 'f.json', etag: 'v2', hash: 'h2', rows: 3, idRanges: [[100, 1], [200, 1]], absent: [2], failed: 1, jobId: 'job-2', chunk: 3, createdRows: 1, updatedRows: 1 });
  });

  it('skips rows a user deleted and reports rows the object lost', () => {
    const work = [{ e: { k: 'f.json' }, link: link('f.json', { single: false, rows: 3, idRanges: [[100, 3]], tomb: new Set([0]) }), rows: rows(1) }];
    const b = buildItems(work, { objects: {} }, ctx({ deletions: 'remove' }), 'now');
    expect(b.updates).toEqual([]);
    expect(b.stale.map((s) => s.rows)).toEqual([[1, 2]]);
    expect(b.links[0]).toMatchObject({ rows: 3, absent: [1, 2], tomb: new Set([0]) });
  });

  it('fails a new row the plan has no id for (the object grew while it was synced)', () => {
    const b = buildItems([{ e: { k: 'g' }, rows: rows(2) }], { objects: { g: [300, 1, 0, 0] } }, ctx(), 'now');
    expect(b.items.map((i) => i.id)).toEqual([300]);
    expect(b.failures[0].reason).toMatch(/^row 1: the object changed/);
  });
});

describe('task item factory', () => {
  it('stores optional fields only when given and counts labeled annotations', () => {
    const base = { id: 1, projectId: 2, orgId: 'o', data: { a: 1 }, firstAnnotationId: 10, now: 'n' };
    const anns = [fileAnnotationFields({ result: [1], id: 4 }), fileAnnotationFields({ was_cancelled: true, lead_time: 2 })];
    const { task, annotations, labeled } = newTaskItems({ ...base, annotations: anns });
    expect(task).toEqual({ kind: 'task', id: 1, projectId: 2, orgId: 'o', data: { a: 1 }, is_labeled: true, total_annotations: 1, cancelled_annotations: 1, total_predictions: 0, created_at: 'n', updated_at: 'n' });
    expect(annotations.map((a) => [a.id, a.import_id, a.was_cancelled, a.lead_time, a.completed_by])).toEqual([[10, 4, false, null, null], [11, null, true, 2, null]]);
    expect(labeled).toBe(1);
    expect(newTaskItems({ ...base, annotations: [], predictions: [], meta: { m: 1 } }).task).toMatchObject({ predictions: [], meta: { m: 1 }, total_predictions: 0, is_labeled: false });
  });
});

describe('lost rows, final range and digests', () => {
  it('turns rows whose task was deleted meanwhile into tombstones', () => {
    const links = [link('a', { updatedRows: 2 }), link('b')];
    tombLostRows(links, new Map([['a', [-1]]]), false);
    expect(links[0]).toMatchObject({ tomb: new Set([-1]), updatedRows: 1 });
    expect(links[1].tomb).toBeUndefined();
  });

  it('rewrites the range with the chunk changes and drops removed objects', () => {
    const before = new Map([['a', link('a')], ['b', link('b')], ['c', link('c')]]);
    const changes = { written: [link('a', { etag: 'v2' })], gone: [link('b')] };
    expect(finalRange(before, changes, 'remove').map((l) => [l.key, l.etag])).toEqual([['a', 'v2'], ['c', 'v1']]);
    expect(finalRange(before, changes, 'flag').map((l) => l.key)).toEqual(['a', 'b', 'c']);
  });

  it('lists the live rows of a link', () => {
    expect(liveRows(link('x', { single: false, rows: 4, absent: [1], tomb: new Set([3]) }))).toEqual([0, 2]);
    expect(liveRows(link('x', { tomb: new Set([-1]) }))).toEqual([]);
  });

  it('digests only chunks that may be skipped, independently of the order of unordered entries', () => {
    const chunk = { from: null, to: 'b', ordered: false };
    const entries = dedupe([{ k: 'b', e: '1' }, { k: 'a' }, { k: 'b', e: '2' }]);
    expect(entries).toEqual([{ k: 'b', e: '1' }, { k: 'a' }]);
    const d = importChunkDigest(chunk, entries, ctx({ ordered: false }));
    expect(d).toBe(importChunkDigest(chunk, [...entries].reverse(), ctx({ ordered: false })));
    expect(importChunkDigest(chunk, entries, ctx({ ordered: false, deletions: 'remove' }))).toBeUndefined();
    expect(importChunkDigest(chunk, entries, ctx({ ordered: false, blob: true }))).not.toBe(d);
  });
});
