/**
 * Input limits and ReDoS, through the real handlers (API Gateway v2 events) and the real listing
 * path. Each over-limit input must answer 400/413 with a message saying what was too big —
 * never a crash, a hang or a 500.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as storages } from '../../functions/api/storages';
import { handler as projects } from '../../functions/api/projects';
import { MAX_BODY_BYTES, MAX_JSON_DEPTH } from '../../shared/http/body';
import {
  MAX_ANNOTATION_RESULT_BYTES,
  MAX_CREDENTIALS_JSON_CHARS,
  MAX_LABEL_CONFIG_BYTES,
  MAX_SHORT_FIELD_CHARS,
  MAX_TEXT_FIELD_CHARS,
} from '../../shared/http/limits';
import { createEmulatorS3Client } from '../emulators/s3-client';
import { createS3Buckets } from '../contract/helpers';
import { client, newTenant, useTestEnvironment } from '../integration/api-harness';

const em = inject('emulators');
const root = mkdtempSync(join(tmpdir(), 'labelsync-limits-'));
const EVIL_BUCKET = 'redos-keys';
let api: ReturnType<typeof client>;
let apiP: ReturnType<typeof client>;
let projectId: number;
let taskId: number;

beforeAll(async () => {
  process.env.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
  process.env.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
  useTestEnvironment();
  const t = await newTenant('limits');
  api = client(storages, t.token);
  apiP = client(projects, t.token);
  projectId = (await apiP('POST', '/api/projects', { title: 'limits' })).json.id;
  const imported = await apiP('POST', `/api/projects/${projectId}/import`, [{ text: 'x' }]);
  expect(imported.status).toBe(201);
  taskId = (await apiP('GET', `/api/tasks?project=${projectId}`)).json.tasks?.[0]?.id ?? (await apiP('GET', `/api/tasks?project=${projectId}`)).json.results?.[0]?.id;
});

const expectClientError = (r: { status: number; text: string }, statuses: number[], message: RegExp) => {
  expect(statuses, r.text.slice(0, 300)).toContain(r.status);
  expect(r.text).toMatch(message);
};

describe('request bodies', () => {
  it(`a body over ${MAX_BODY_BYTES} bytes → 413 on every JSON route, before parsing`, async () => {
    const big = `{"title":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
    for (const [h, method, url] of [
      [apiP, 'POST', '/api/projects'],
      [apiP, 'POST', `/api/projects/${projectId}/import`],
      [apiP, 'PATCH', `/api/projects/${projectId}`],
      [apiP, 'POST', `/api/tasks/${taskId}/annotations`],
      [api, 'POST', '/api/storages/s3'],
      [api, 'POST', '/api/storages/s3/validate'],
      [api, 'POST', '/api/storages/export/azure'],
    ] as const) {
      expectClientError(await h(method, url, big), [413], /larger than \d+ bytes/);
    }
    // The same size base64-encoded (binary body) is measured too.
    expectClientError(await apiP('POST', '/api/projects', Buffer.from(big)), [413], /larger than/);
  });

  it(`JSON nested deeper than ${MAX_JSON_DEPTH} levels → 400 (arrays, objects, 100k levels: no stack overflow)`, async () => {
    for (const depth of [MAX_JSON_DEPTH + 1, 1000, 100_000]) {
      const arr = '['.repeat(depth) + ']'.repeat(depth);
      expectClientError(await apiP('POST', `/api/projects/${projectId}/import`, arr), [400], /nesting deeper than/);
      const obj = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      expectClientError(await api('POST', '/api/storages/s3/validate', obj), [400], /nesting deeper than/);
    }
    // At the limit it is accepted by the parser (the route then judges the content).
    // At exactly the limit it is parsed and stored (DynamoDB's own 32-level cap is not reached).
    const at = (n: number) => `[{"data":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}]`;
    const ok = await apiP('POST', `/api/projects/${projectId}/import`, at(MAX_JSON_DEPTH - 2));
    expect(ok.status, ok.text).toBe(201);
    expectClientError(await apiP('POST', `/api/projects/${projectId}/import`, at(MAX_JSON_DEPTH - 1)), [400], /nesting deeper than/);
    const ann = await apiP('POST', `/api/tasks/${taskId}/annotations`, `{"result":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`);
    expect(ann.status, ann.text).toBe(201);
  });

  it('malformed JSON, wrong top-level types and invalid UTF-8 → 400, never 500', async () => {
    for (const body of ['{', '{"a":}', 'nul', '"str"', '12', '[1,2', '\u0000', '{"a":1}garbage', Buffer.from([0xff, 0xfe, 0x7b])]) {
      for (const url of ['/api/projects', `/api/tasks/${taskId}/annotations`]) {
        const r = await apiP('POST', url, body);
        expect([400], `${url} ${String(body)} → ${r.status} ${r.text}`).toContain(r.status);
      }
      const r = await api('POST', '/api/storages/localfiles', body);
      expect(r.status, r.text).toBe(400);
    }
  });
});

describe('field lengths', () => {
  const long = (n: number) => 'x'.repeat(n);
  it('project title, description and label config over their limits → 400 naming the field', async () => {
    for (const [field, value] of [
      ['title', long(51)],
      ['description', long(MAX_TEXT_FIELD_CHARS + 1)],
      ['description', '😀'.repeat(MAX_TEXT_FIELD_CHARS + 1)],
      ['label_config', `<View>${long(MAX_LABEL_CONFIG_BYTES)}</View>`],
      ['label_config', `<View>${'😀'.repeat(MAX_LABEL_CONFIG_BYTES / 4)}</View>`],
    ] as const) {
      const r = await apiP('POST', '/api/projects', { [field]: value });
      expect(r.status, `${field}: ${r.text.slice(0, 200)}`).toBe(400);
      expect(Object.keys(r.json.validation_errors)).toContain(field);
    }
  });

  it(`every string field of a storage is capped (title 256, description ${MAX_TEXT_FIELD_CHARS}, others ${MAX_SHORT_FIELD_CHARS}, credentials JSON ${MAX_CREDENTIALS_JSON_CHARS}) → 400 naming it, never a DynamoDB 500`, async () => {
    const S = MAX_SHORT_FIELD_CHARS + 1;
    const fields: Record<string, number> = { title: 257, description: MAX_TEXT_FIELD_CHARS + 1, regex_filter: S, path: S };
    for (const [field, n] of Object.entries(fields)) {
      const r = await api('POST', '/api/storages/localfiles', { project: projectId, path: join(root, 'x'), [field]: `/${long(n)}` });
      expect(r.status, `${field}: ${r.text.slice(0, 200)}`).toBe(400);
      expect(Object.keys(r.json.validation_errors), field).toContain(field);
    }
    for (const [type, field, n] of [
      ['s3', 'bucket', S],
      ['s3', 'prefix', S],
      ['s3', 'aws_secret_access_key', S],
      ['s3', 's3_endpoint', S],
      ['gcs', 'google_application_credentials', MAX_CREDENTIALS_JSON_CHARS + 1],
      ['azure', 'account_key', S],
      ['redis', 'password', S],
      ['redis', 'host', S],
    ] as const) {
      const r = await api('POST', `/api/storages/${type}/validate`, { project: projectId, [field]: long(n) });
      expect(r.status, `${type}.${field}: ${r.text.slice(0, 200)}`).toBe(400);
      expect(Object.keys(r.json.validation_errors), `${type}.${field}`).toContain(field);
    }
    // Every field at its cap together still fits one item: created, read back, no 500.
    mkdirSync(join(root, 'full'), { recursive: true });
    const full = await api('POST', '/api/storages/localfiles', {
      project: projectId,
      path: join(root, 'full'),
      title: '😀'.repeat(64),
      description: '😀'.repeat(MAX_TEXT_FIELD_CHARS),
      regex_filter: '😀'.repeat(MAX_SHORT_FIELD_CHARS),
    });
    expect(full.status, full.text.slice(0, 300)).toBe(201);
  });

  it('a task or an annotation result over the item limit → 400 with the size in the message', async () => {
    const r = await apiP('POST', `/api/projects/${projectId}/import`, [{ text: long(400 * 1024) }]);
    expectClientError(r, [400], /larger than \d+ bytes/);
    const a = await apiP('POST', `/api/tasks/${taskId}/annotations`, { result: [{ value: { text: [long(MAX_ANNOTATION_RESULT_BYTES)] } }] });
    expectClientError(a, [400], /Annotation result is larger than/);
    expect(Object.keys(a.json.validation_errors)).toEqual(['result']);
    const created = await apiP('POST', `/api/tasks/${taskId}/annotations`, { result: [] });
    const p = await apiP('PATCH', `/api/annotations/${created.json.id}`, { result: [{ value: { text: ['😀'.repeat(MAX_ANNOTATION_RESULT_BYTES / 4)] } }] });
    expectClientError(p, [400], /Annotation result is larger than/);
  });
});

describe('number of tasks in one import', () => {
  it('more than 100,000 tasks in one request → 413 with the limit in the message, nothing written', async () => {
    const before = (await apiP('GET', `/api/projects/${projectId}`)).json.task_number;
    const started = Date.now();
    const r = await apiP('POST', `/api/projects/${projectId}/import`, `[${Array.from({ length: 100_001 }, () => '{}').join(',')}]`);
    expectClientError(r, [413], /100,000 tasks/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await apiP('GET', `/api/projects/${projectId}`)).json.task_number).toBe(before);
  });
});

describe('ReDoS: regex_filter runs on RE2 (linear time) through the real listing', () => {
  const EVIL = ['(a+)+$', '(a|aa)+$', '(a*)*$', '([a-zA-Z]+)*$', '(a|a?)+$', '(.*a){12}$', '^(a+)+b'];

  it('evil patterns over long keys finish in milliseconds in the files preview (local files, 4,000-char key)', async () => {
    const dir = join(root, 'redos');
    // One long key: nested directories of 250 'a's, then a file 'aaa…!' (no final match).
    let p = dir;
    for (let i = 0; i < 15; i++) p = join(p, 'a'.repeat(250));
    mkdirSync(p, { recursive: true });
    writeFileSync(join(p, `${'a'.repeat(200)}!`), '{}');
    writeFileSync(join(dir, 'aaaa'), '{}');
    for (const pattern of EVIL) {
      const started = performance.now();
      const r = await api('POST', '/api/storages/localfiles/files', { project: projectId, path: dir, recursive_scan: true, regex_filter: pattern });
      const ms = performance.now() - started;
      expect(r.status, r.text.slice(0, 200)).toBe(200);
      expect(ms, pattern).toBeLessThan(5000);
      expect(r.json.files.every((f: { key: string }) => f.key.length < 4100)).toBe(true);
    }
  });

  it('evil patterns over 1,000-char S3 keys finish in milliseconds in the files preview (S3 emulator)', async () => {
    await createS3Buckets(em.s3.endpoint, em.s3, em.s3.region, [EVIL_BUCKET]);
    const s3 = createEmulatorS3Client(em.s3);
    // s3rver stores keys as files: '/' keeps each name under the 255-byte file-name limit.
    const longKey = `${'a'.repeat(200)}/`.repeat(4) + 'a'.repeat(190);
    await s3.send(new PutObjectCommand({ Bucket: EVIL_BUCKET, Key: `${longKey}!`, Body: '{}' }));
    await s3.send(new PutObjectCommand({ Bucket: EVIL_BUCKET, Key: longKey, Body: '{}' }));
    s3.destroy();
    for (const pattern of ['([a/]+)+$', '(a|/|aa)+$', '((a|/)*)*$', '([a-z/]+)*$', '(a+|/)+$']) {
      const started = performance.now();
      const r = await api('POST', '/api/storages/s3/files', {
        project: projectId,
        bucket: EVIL_BUCKET,
        s3_endpoint: em.s3.endpoint,
        region_name: em.s3.region,
        aws_access_key_id: em.s3.accessKeyId,
        aws_secret_access_key: em.s3.secretAccessKey,
        recursive_scan: true,
        regex_filter: pattern,
      });
      expect(r.status, r.text.slice(0, 200)).toBe(200);
      expect(performance.now() - started, pattern).toBeLessThan(5000);
      // re.match semantics still hold: the all-'a' key matches the anchored patterns.
      expect(r.json.files.map((f: { key: string }) => f.key)).toEqual([longKey]);
    }
  });

  it('patterns RE2 cannot run (back-references, look-around) are refused at create and validate with 400 naming regex_filter', async () => {
    const dir = join(root, 'plain');
    mkdirSync(dir, { recursive: true });
    for (const pattern of ['(a)\\1', '(?=a)b', '(?!a)b', '(?<=a)b', '(?<!a)b', '(?P<x>a)(?P=x)', '(', '[', 'a{1001}', '(?<x>a)\\k<x>']) {
      for (const url of ['/api/storages/localfiles', '/api/storages/localfiles/validate']) {
        const r = await api('POST', url, { project: projectId, path: dir, regex_filter: pattern });
        expect(r.status, `${pattern}: ${r.text}`).toBe(400);
        expect(Object.keys(r.json.validation_errors), pattern).toEqual(['regex_filter']);
      }
    }
  });
});
