/**
 * Limits on what a sync reads from storage (task files are attacker-controlled input too):
 * LABELSYNC_MAX_TASK_FILE_BYTES (set small here), JSONL line length (1 MiB), one task's size and
 * nesting depth (DynamoDB caps). Each over-limit file or line fails alone with a readable reason;
 * the rest of the sync goes on, nothing crashes, and the storage answers 200 with the failures.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { MAX_STORED_JSON_DEPTH } from '../../shared/http/limits';
import { DEFAULT_PARSE_LIMITS } from '../../shared/sync/parse-tasks';
import type { StorageConfig } from '../../shared/storage/types';
import { client, type ApiHandler } from '../integration/api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, tasksOf, type SyncHarness } from '../integration/sync-helpers';

const MAX_FILE = 2 * 1024 * 1024;
let h: SyncHarness;

beforeAll(async () => {
  process.env.LABELSYNC_MAX_TASK_FILE_BYTES = String(MAX_FILE);
  h = await startSyncHarness({ chunkSize: 10 });
}, 120_000);

afterAll(async () => {
  delete process.env.LABELSYNC_MAX_TASK_FILE_BYTES;
  await stopSyncHarness(h);
});

describe('task file limits during sync', () => {
  it('oversized files, overlong JSONL lines and too-deep tasks fail alone with a readable reason; the rest is imported', async () => {
    const dir = join(h.root, 'limits');
    mkdirSync(dir, { recursive: true });
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const files: Record<string, string> = {
      'ok.json': '{"image":"ok"}',
      'huge.json': JSON.stringify([{ image: 'x'.repeat(MAX_FILE) }]), // over the task file cap
      'lines.jsonl': ['{"image":"l0"}', JSON.stringify({ image: 'y'.repeat(DEFAULT_PARSE_LIMITS.maxLineBytes + 10) }), '{"image":"l2"}'].join('\n'),
      'deep.json': `{"image":"d","nested":${deep(MAX_STORED_JSON_DEPTH + 5)}}`,
      'deep-ok.json': `{"image":"d2","nested":${deep(MAX_STORED_JSON_DEPTH - 3)}}`,
      'deep-array.json': `[{"image":"a"},${'['.repeat(200)}${']'.repeat(200)}]`,
    };
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
    const projectId = await newProject(h.orgId);
    const storage = await newStorage(h.orgId, projectId, { type: 'localfiles', role: 'import', path: dir, use_blob_urls: false } as StorageConfig);
    const api = client(storagesHandler as unknown as ApiHandler, h.token);
    const r = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
    expect(r.status, r.text).toBe(200);
    await h.starter.idle();
    const after = await storageOf(storage.id);
    expect(after.status).toBe('completed_with_errors');
    const failures = after.meta.failures as { key: string; reason: string }[];
    const reason = (k: string) => failures.find((f) => f.key === k)?.reason ?? '';
    expect(reason('huge.json')).toMatch(/too large|larger|limit/i);
    expect(reason('huge.json')).toContain(String(MAX_FILE));
    expect(reason('deep.json')).toMatch(/nested deeper than \d+ levels/);
    expect(reason('deep-array.json')).toMatch(/row 1/);
    expect(reason('lines.jsonl')).toMatch(new RegExp(`row 1: line is longer than ${DEFAULT_PARSE_LIMITS.maxLineBytes} bytes`));
    const images = (await tasksOf(projectId)).map((t) => t.data.image).sort();
    expect(images).toEqual(['a', 'd2', 'l0', 'l2', 'ok']);
    // The storage is readable through the API with its failures, never a 500.
    const shown = await api('GET', `/api/storages/localfiles/${storage.id}`);
    expect(shown.status).toBe(200);
    expect(shown.json.status).toBe('completed_with_errors');
  });
});
