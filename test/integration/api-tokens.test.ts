/** Token minting (scripts/token.ts and ensureLocalToken) and token authentication. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { handler } from '../../functions/api/projects';
import { ensureLocalToken, hashToken, LOCAL_ORG_ID } from '../../shared/api/tokens';
import { processApp } from '../../shared/process-app';
import { keys } from '../../shared/db/keys';
import { withParts } from '../../shared/app';
import { loadSigningKey } from '../../shared/crypto/signing-key';
import { client, useTestEnvironment } from './api-harness';

const run = promisify(execFile);

beforeAll(() => {
  useTestEnvironment();
});

describe('scripts/token.ts', () => {
  it('creates an organization and a working token, stored only as its hash', async () => {
    const em = inject('emulators');
    const { stdout, stderr } = await run('npx', ['tsx', 'scripts/token.ts', 'create', '--org', 'cli-org', '--table', inject('tableName'), '--endpoint', em.dynamodb.endpoint, '--region', em.dynamodb.region], { cwd: process.cwd() });
    const token = stdout.trim();
    expect(token).toMatch(/^[0-9a-f]{40}$/);
    expect(stderr).toMatch(/created organization 'cli-org'/);
    const api = client(handler, token);
    expect((await api('POST', '/api/projects', { title: 'via cli token' })).status).toBe(201);
    const raw = await processApp().db.doc.send(new GetCommand({ TableName: processApp().db.table, Key: keys.token(hashToken(token)) }));
    expect(raw.Item).toBeDefined();
    expect(JSON.stringify(raw.Item)).not.toContain(token);
    const orgId = /\(id ([^)]+)\)/.exec(stderr)![1];
    const second = await run('npx', ['tsx', 'scripts/token.ts', 'create', '--org-id', orgId, '--table', inject('tableName'), '--endpoint', em.dynamodb.endpoint]);
    const t2 = second.stdout.trim();
    expect(t2).not.toBe(token);
    // Both tokens see the same organization's projects.
    const listed = await client(handler, t2)('GET', '/api/projects');
    expect(listed.json.results.map((p: { title: string }) => p.title)).toContain('via cli token');
  }, 60_000);

  it('refuses an unknown organization id with exit code 2', async () => {
    const em = inject('emulators');
    await expect(run('npx', ['tsx', 'scripts/token.ts', 'create', '--org-id', 'nope', '--table', inject('tableName'), '--endpoint', em.dynamodb.endpoint])).rejects.toMatchObject({ code: 2 });
  }, 60_000);
});

describe('ensureLocalToken', () => {
  it('generates a token once, stores it 0600, and returns it unchanged later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-token-'));
    const first = await ensureLocalToken(dir, undefined, processApp().db);
    expect(first.created).toBe(true);
    expect(readFileSync(join(dir, 'api-token'), 'utf8').trim()).toBe(first.token);
    expect(statSync(join(dir, 'api-token')).mode & 0o777).toBe(0o600);
    const again = await ensureLocalToken(dir, undefined, processApp().db);
    expect(again).toEqual({ token: first.token, created: false });
    const r = await client(handler, first.token)('GET', '/api/projects');
    expect(r.status).toBe(200);
    const item = await processApp().db.doc.send(new GetCommand({ TableName: processApp().db.table, Key: keys.token(hashToken(first.token)) }));
    expect(item.Item?.orgId).toBe(LOCAL_ORG_ID);
  });

  it('registers LABELSYNC_API_TOKEN when given', async () => {
    const token = `env-token-${Date.now()}`;
    const res = await ensureLocalToken(mkdtempSync(join(tmpdir(), 'local-token-')), token, processApp().db);
    expect(res).toEqual({ token, created: false });
    expect((await client(handler, token)('GET', '/api/projects')).status).toBe(200);
  });
});

describe('signing key', () => {
  it('is 32 bytes, stable within a data directory and different across directories', async () => {
    // Each app loads the key once: a fresh app stands for a fresh process.
    const a = await withParts(processApp(), {}).signingKey();
    expect(a.length).toBe(32);
    expect((await withParts(processApp(), {}).signingKey()).equals(a)).toBe(true);
    const other = await withParts(processApp(), {}, { LABELSYNC_DATA_DIR: mkdtempSync(join(tmpdir(), 'sk-')) }).signingKey();
    expect(other.equals(a)).toBe(false);
  });

  it('in KMS mode is generated once into the table and read back by every instance', async () => {
    const ctx = processApp();
    // The secret box stands in for KMS here (the local box has the same interface); the table path is what is tested.
    const kmsCtx = { ...ctx, env: { ...ctx.env, kmsKeyId: 'alias/test' } };
    const a = await loadSigningKey(kmsCtx);
    // A fresh instance (loadSigningKey caches nothing) reads the stored key instead of generating another.
    const c = await loadSigningKey(kmsCtx);
    expect(a.length).toBe(32);
    expect(a.equals(c)).toBe(true);
    const raw = await ctx.db.doc.send(new GetCommand({ TableName: ctx.db.table, Key: { pk: 'CONFIG#signing-key', sk: 'CONFIG' } }));
    expect(raw.Item?.blob).toMatch(/^loc1\./);
    expect(raw.Item?.blob).not.toContain(a.toString('hex'));
  });
});
