/**
 * A bad variable stops the local runtime before it listens: `startRuntime` rejects naming it and
 * `npm start` prints it and exits non-zero.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runtimeStateFile, startRuntime } from '../../local/runtime';

const saved = { ...process.env };

afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe('bad environment', () => {
  it('startRuntime rejects before listening, naming the variable', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'labelsync-bad-env-'));
    process.env.LABELSYNC_SYNC_CHUNK_SIZE = 'abc';
    const em = inject('emulators');
    await expect(startRuntime({ port: 0, dataDir, dynamodbEndpoint: em.dynamodb.endpoint, tableName: inject('tableName'), stream: false, log: () => undefined })).rejects.toThrow(
      /LABELSYNC_SYNC_CHUNK_SIZE must be a positive integer, got 'abc'/,
    );
    expect(existsSync(runtimeStateFile(dataDir))).toBe(false);
  });

  it('npm start prints every bad variable and exits non-zero', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'labelsync-bad-env-start-'));
    const child = spawn('npx', ['tsx', 'local/start.ts'], {
      cwd: process.cwd(),
      env: { ...process.env, LABELSYNC_DATA_DIR: dataDir, LABELSYNC_SYNC_CHUNK_SIZE: 'abc', PORT: 'http', LABELSYNC_DYNAMODB_PORT: '99999' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, out).not.toBe(0);
    expect(out).toMatch(/labelsync failed to start: invalid environment: .*LABELSYNC_SYNC_CHUNK_SIZE/);
    expect(out).toContain('PORT must be a port number');
    expect(out).toContain('LABELSYNC_DYNAMODB_PORT must be a port number');
    expect(out).not.toContain('labelsync is running');
  }, 60_000);
});
