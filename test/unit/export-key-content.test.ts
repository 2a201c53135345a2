import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { exportObjectKey, normalizeExportPrefix } from '../../shared/export/key';
import { buildExportDocument, exportTaskData, serializeExportDocument, timeSince } from '../../shared/export/content';
import type { AnnotationItem, TaskItem } from '../../shared/db/items';
import type { StorageConfig } from '../../shared/storage/types';

const cfg = (c: Partial<StorageConfig>): StorageConfig => ({ type: 's3', role: 'export', ...c }) as StorageConfig;

describe('export object key', () => {
  it('is the bare annotation id without a prefix, with no extension by default', () => {
    expect(exportObjectKey(cfg({ bucket: 'b' }), 42)).toBe('42');
  });
  it('joins a prefix with exactly one slash, even when the prefix ends in slashes', () => {
    expect(exportObjectKey(cfg({ prefix: 'out' }), 7)).toBe('out/7');
    expect(exportObjectKey(cfg({ prefix: 'out/' }), 7)).toBe('out/7');
    expect(exportObjectKey(cfg({ type: 'gcs', prefix: 'a//b///' }), 7)).toBe('a/b/7');
    expect(exportObjectKey(cfg({ type: 'azure', prefix: '/' }), 7)).toBe('7');
  });
  it('writes <id>.json with export_key_format id_json', () => {
    expect(exportObjectKey(cfg({ prefix: 'out', export_key_format: 'id_json' }), 7)).toBe('out/7.json');
    expect(exportObjectKey(cfg({ type: 'redis', export_key_format: 'id_json' }), 7)).toBe('7.json');
  });
  it('ignores path for redis and is relative to the storage path for local files', () => {
    expect(exportObjectKey(cfg({ type: 'redis', path: 'pre' }), 9)).toBe('9');
    expect(exportObjectKey(cfg({ type: 'localfiles', path: '/data/out', prefix: 'ignored' }), 9)).toBe('9');
  });
  it('never contains // for any prefix (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 1e9 }), (prefix, id) => {
        const k = exportObjectKey(cfg({ prefix }), id);
        expect(k.includes('//')).toBe(false);
        expect(k.endsWith(String(id))).toBe(true);
        expect(normalizeExportPrefix(prefix).endsWith('/')).toBe(false);
      }),
    );
  });
});

const annotation: AnnotationItem = {
  kind: 'annotation', id: 11, taskId: 5, projectId: 3, orgId: 'o', result: [{ type: 'choices', value: { choices: ['a'] } }],
  completed_by: 1, ground_truth: false, lead_time: 2.5, was_cancelled: false, version: 4, import_id: null,
  created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:05:00.000Z',
};
const task: TaskItem = {
  kind: 'task', id: 5, projectId: 3, orgId: 'o', data: { $undefined$: 's3://bucket/img.png', other: 1 }, meta: { m: 1 },
  is_labeled: true, total_annotations: 1, cancelled_annotations: 0, total_predictions: 0,
  created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z',
};

describe('export content', () => {
  it('nests the task with raw data and renames $undefined$ to the first data key', () => {
    const doc = buildExportDocument({ annotation, task, project: { id: 3, data_keys: ['image', 'text'] } }, new Date('2026-01-01T03:02:00Z'));
    expect(doc).toMatchObject({ id: 11, result: annotation.result, result_count: 1, project: 3, lead_time: 2.5, was_cancelled: false });
    expect(doc.completed_by).toEqual({ id: 1, first_name: '', last_name: '', email: '' });
    const t = doc.task as Record<string, unknown>;
    expect(t.data).toEqual({ image: 's3://bucket/img.png', other: 1 });
    expect(t).toMatchObject({ id: 5, meta: { m: 1 }, is_labeled: true, total_annotations: 1, project: 3 });
    expect(t).not.toHaveProperty('annotations');
    expect(doc.created_ago).toBe('3\u00a0hours, 2\u00a0minutes');
    expect(task.data).toHaveProperty('$undefined$'); // input untouched
  });
  it('keeps $undefined$ when the label config has no data keys', () => {
    expect(exportTaskData({ $undefined$: 'x' }, [])).toEqual({ $undefined$: 'x' });
  });
  it('pretty-prints with indent 2 for local files only', () => {
    const doc = { a: 1 };
    expect(serializeExportDocument(doc, 'localfiles')).toBe('{\n  "a": 1\n}');
    expect(serializeExportDocument(doc, 's3')).toBe('{"a":1}');
  });
  it('formats created_ago like Django timesince', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    expect(timeSince(t0, new Date('2026-01-01T00:00:30Z'))).toBe('0\u00a0minutes');
    expect(timeSince(t0, new Date('2026-01-01T00:01:00Z'))).toBe('1\u00a0minute');
    expect(timeSince(t0, new Date('2026-01-09T00:00:00Z'))).toBe('1\u00a0week, 1\u00a0day');
  });
});
