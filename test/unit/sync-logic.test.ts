/**
 * Pure parts of the sync pipeline: task file parsing (formats, per-row failures, streaming
 * boundaries), chunk cutting, link arithmetic, export-prefix rule, traceback scrubbing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StorageItem } from '../../shared/db/items';
import { LINK_SHARDS, linkShard } from '../../shared/db/sync-keys';
import { taskIdOfRow } from '../../shared/db/repo-links';
import { sameVersion } from '../../shared/sync/import-chunk/classify';
import { exportPrefixes, underAny } from '../../shared/sync/export-prefix';
import { tracebackOf } from '../../shared/sync/finalize-step';
import { ChunkCutter, keyBoundary } from '../../shared/sync/listing/chunk-cutter';
import { storableJsonProblem } from '../../shared/db/storable-json';
import { parseTaskFile, TaskFileError, type ParsedRow } from '../../shared/sync/parse-tasks';
import { executionNameOf } from '../../shared/sync/starter';

/** Feeds `text` to the parser in pieces of `size` bytes (splitting UTF-8 sequences too). */
async function parse(key: string, text: string, size = 7, limits?: { maxLineBytes: number; maxTaskBytes: number }): Promise<ParsedRow[]> {
  const bytes = Buffer.from(text, 'utf8');
  async function* pieces() {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  return parseTaskFile(key, pieces(), limits);
}

describe('task file parsing', () => {
  it('reads one JSON object as one task with row_index null', async () => {
    expect(await parse('a.json', ' {"image": "x", "ü": "é"} ')).toEqual([{ row_index: null, task: { data: { image: 'x', ü: 'é' } } }]);
  });

  it('splits a JSON array into elements whatever the read boundaries', async () => {
    const arr = [{ a: '[,]{"' }, { data: { b: [1, { c: '\\"' }] }, predictions: [{ result: [] }] }, { 'k,': 'v]' }];
    for (const size of [1, 3, 64]) {
      const rows = await parse('a.json', JSON.stringify(arr, null, size === 3 ? 2 : 0), size);
      expect(rows.map((r) => r.task)).toEqual([{ data: arr[0] }, { data: { b: [1, { c: '\\"' }] }, predictions: [{ result: [] }] }, { data: arr[2] }]);
      expect(rows.map((r) => r.row_index)).toEqual([0, 1, 2]);
    }
  });

  it('an empty array yields nothing; a truncated array fails the file', async () => {
    expect(await parse('a.json', ' [ ] ')).toEqual([]);
    await expect(parse('a.json', '[{"a":1},')).rejects.toBeInstanceOf(TaskFileError);
    await expect(parse('a.json', '[{"a":1}] x')).rejects.toThrow(/after the end/);
  });

  it('reads JSONL by extension, and a {-file that is not one object as JSONL; empty lines are not rows', async () => {
    const rows = await parse('t.ndjson', '{"a":1}\n\n[1]\n{"a":3}\r\n');
    expect(rows.map((r) => [r.row_index, r.task?.data ?? r.error?.slice(0, 6)])).toEqual([[0, { a: 1 }], [1, 'row 1:'], [2, { a: 3 }]]);
    const fallback = await parse('t.json', '{"a":1}\n{"a":2}');
    expect(fallback.map((r) => [r.row_index, r.task?.data])).toEqual([[0, { a: 1 }], [1, { a: 2 }]]);
  });

  it('a JSONL line over the line limit fails alone without being buffered', async () => {
    const rows = await parse('t.jsonl', `{"a":1}\n{"a":"${'x'.repeat(200)}"}\n{"a":3}`, 5, { maxLineBytes: 50, maxTaskBytes: 1000 });
    expect(rows.map((r) => (r.task ? r.task.data : r.error))).toEqual([{ a: 1 }, 'row 1: line is longer than 50 bytes', { a: 3 }]);
  });

  it('rejects non-JSON with Label Studio\'s message, and invalid UTF-8 as a file error', async () => {
    await expect(parse('img.png', '\x89PNG')).rejects.toThrow(/Can't import JSON-formatted tasks from img.png/);
    await expect(parse('e.json', '   ')).rejects.toThrow(/Can't import/);
    await expect(parseTaskFile('bad.json', (async function* () { yield Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]); })())).rejects.toThrow(/UTF-8/);
  });

  it('validates wrappers: annotations need data; lists of objects; size cap per task', async () => {
    const rows = await parse('w.json', JSON.stringify([{ annotations: [] }, { data: { a: 1 }, annotations: 'x' }, { data: { a: 'y'.repeat(500) } }, 5]), 64, {
      maxLineBytes: 10_000,
      maxTaskBytes: 300,
    });
    expect(rows.map((r) => r.error)).toEqual([
      'row 0: If you use "annotations" field in the task, you must put "data" field in the task too',
      'row 1: "annotations" must be a list of objects',
      expect.stringMatching(/^row 2: task is \d+ bytes, over the 300-byte limit/),
      'row 3: a task must be a JSON object, got number',
    ]);
  });

  it('any array of objects round-trips element by element (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { maxLength: 8 }), fc.integer({ min: 1, max: 20 }), async (arr, size) => {
        const rows = await parse('p.json', JSON.stringify(arr), size, { maxLineBytes: 1e6, maxTaskBytes: 1e6 });
        // Wrappers, and values DynamoDB cannot store (empty keys, unsafe numbers), are not bare data rows.
        const expected = arr.map((o) => ('data' in o && o.data && typeof o.data === 'object' && !Array.isArray(o.data)) || 'annotations' in o || 'predictions' in o || storableJsonProblem(o) !== undefined);
        rows.forEach((r, i) => {
          if (!expected[i]) expect(r.task?.data).toEqual(JSON.parse(JSON.stringify(arr[i])));
        });
        expect(rows).toHaveLength(arr.length);
      }),
      { numRuns: 60 },
    );
  });
});

describe('chunk cutting', () => {
  it('cuts at the entry count and at the byte cap, never leaving an empty chunk', () => {
    const c = new ChunkCutter<string>(3, 9, (s) => s.length);
    for (const s of ['a', 'b', 'c', 'd', 'eeeeeeeee', 'f']) c.push(s);
    c.cut();
    c.cut();
    expect(c.full).toEqual([['a', 'b', 'c'], ['d'], ['eeeeeeeee'], ['f']]);
  });

  it('content-defined cuts realign after a shifted start, so later chunks are identical', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => ({ k: `dir/${i}.json` }));
    const cut = (list: { k: string }[], firstCut: number) => {
      const c = new ChunkCutter<{ k: string }>(100, 1e9, () => 1, keyBoundary(100));
      list.forEach((e, i) => {
        if (i === firstCut) c.cut(); // a listing step ending at an arbitrary point
        c.push(e);
      });
      c.cut();
      return c.full.map((g) => g.map((e) => e.k).join(','));
    };
    const a = cut(keys, 37);
    const b = cut(keys, 1234);
    const sizes = a.map((g) => g.split(',').length);
    expect(Math.min(...sizes.slice(1, -1))).toBeGreaterThanOrEqual(50);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(200);
    expect(keys.length / a.length).toBeGreaterThan(60);
    expect(keys.length / a.length).toBeLessThan(160);
    // Chunks after the second step boundary are the same in both runs.
    const tail = new Set(b.slice(-20));
    expect(a.slice(-20).filter((g) => tail.has(g)).length).toBeGreaterThanOrEqual(19);
  });
});

describe('link arithmetic', () => {
  it('maps rows to ids through consecutive id blocks', () => {
    const link = { idRanges: [[100, 2], [500, 3]] as [number, number][] };
    expect([0, 1, 2, 4, 5].map((r) => taskIdOfRow(link, r))).toEqual([100, 101, 500, 502, undefined]);
  });

  it('spreads keys over every link shard', () => {
    const counts = new Array(LINK_SHARDS).fill(0);
    for (let i = 0; i < 16_000; i++) counts[linkShard(`images/2025/${i}.jpg`)]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });

  it('treats an object as unchanged by etag (and size), else by mtime and size', () => {
    expect(sameVersion({ etag: 'e1', size: 3 }, { k: 'k', e: 'e1', s: 3 })).toBe(true);
    expect(sameVersion({ etag: 'e1', size: 3 }, { k: 'k', e: 'e2', s: 3 })).toBe(false);
    expect(sameVersion({ mtime: 5, size: 3 }, { k: 'k', m: 5, s: 3 })).toBe(true);
    expect(sameVersion({}, { k: 'k', s: 3 })).toBe(false);
  });
});

describe('export prefixes and tracebacks', () => {
  const st = (p: Partial<StorageItem>): StorageItem => ({ id: 1, projectId: 1, orgId: 'o', type: 's3', role: 'import', fields: {}, ...p }) as StorageItem;

  it('skips a same-bucket target prefix only (not another bucket, not an empty prefix)', () => {
    const source = st({ fields: { bucket: 'b', prefix: '' } });
    const targets = [
      st({ role: 'export', fields: { bucket: 'b', prefix: '/out' } }),
      st({ role: 'export', fields: { bucket: 'other', prefix: 'x' } }),
      st({ role: 'export', fields: { bucket: 'b', prefix: '' } }),
    ];
    const p = exportPrefixes(source, targets);
    expect(p).toEqual(['out/']);
    expect([underAny(p)('out/1'), underAny(p)('outside/1'), underAny(p)('in/out/1')]).toEqual([true, false, false]);
    expect(exportPrefixes(st({ type: 'localfiles', fields: { path: '/d/src' } }), [st({ type: 'localfiles', role: 'export', fields: { path: '/d/src/ann/' } })])).toEqual(['ann/']);
  });

  it('makes a readable traceback from a Lambda error and scrubs stored secret values', () => {
    const cause = JSON.stringify({ errorType: 'StorageError', errorMessage: 'denied for key AKIASECRET1', trace: ['at x'] });
    expect(tracebackOf({ Error: 'StorageError', Cause: cause }, ['AKIASECRET1'])).toBe('StorageError: denied for key [REDACTED]');
    expect(tracebackOf({ Error: 'States.Timeout', Cause: 'plain' }, [])).toBe('States.Timeout: plain');
  });

  it('derives a valid, deterministic execution name from storage and job', () => {
    expect(executionNameOf({ storageId: 12, jobId: 'ab-cd' })).toBe('12-ab-cd');
    expect(executionNameOf({ storageId: 1, jobId: 'x y/z' })).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
