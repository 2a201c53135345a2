/**
 * The environment is parsed and validated once, eagerly, by createApp: a bad variable fails the
 * start (a Lambda's module initialisation, `npm start`) with one error naming every bad variable,
 * instead of a 500 on the first request that reads it.
 */
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../../shared/app';
import { parseEnv } from '../../shared/config/env';

const BASE = { LABELSYNC_TABLE: 't' };

/** Every numeric, boolean and URL variable of README's configuration table, with a bad value. */
const BAD: Record<string, string> = {
  PORT: '70000',
  LABELSYNC_DYNAMODB_PORT: 'x',
  LABELSYNC_DYNAMODB_ENDPOINT: 'localhost:8000',
  LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'maybe',
  LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'sometimes',
  LABELSYNC_PUBLIC_BASE_URL: 'labelsync.example.com',
  LABELSYNC_MEDIA_TOKEN_TTL_SECONDS: '-1',
  LABELSYNC_MEDIA_PRESIGN_TTL_SECONDS: '0',
  LABELSYNC_INLINE_PRESIGN: 'yes please',
  LABELSYNC_MAX_TASK_FILE_BYTES: '1.5',
  LABELSYNC_SYNC_CONCURRENCY: '0',
  LABELSYNC_SYNC_CHUNK_SIZE: 'abc',
  LABELSYNC_SYNC_WRITE_CONCURRENCY: 'eight',
  LABELSYNC_EXPORT_DLQ_URL: 'queue',
  LABELSYNC_WEBHOOK_QUEUE_URL: 'sqs-queue',
  LABELSYNC_WEBHOOK_TIMEOUT_MS: '0',
  LABELSYNC_WEBHOOK_MAX_ATTEMPTS: 'five',
  LABELSYNC_WEBHOOK_RETRY_BASE_MS: '-5',
  LABELSYNC_WEBHOOK_MAX_CONSECUTIVE_FAILURES: 'many',
  LABELSYNC_WEBHOOK_BATCH_SIZE: '2.5',
};

describe('createApp', () => {
  it('throws naming LABELSYNC_SYNC_CHUNK_SIZE for abc', () => {
    expect(() => createApp({ ...BASE, LABELSYNC_SYNC_CHUNK_SIZE: 'abc' })).toThrow(/LABELSYNC_SYNC_CHUNK_SIZE must be a positive integer, got 'abc'/);
  });

  it('names every bad variable in one error', () => {
    let message = '';
    try {
      parseEnv({ ...BASE, ...BAD });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^invalid environment: /);
    for (const name of Object.keys(BAD)) expect(message, name).toContain(`${name} must be`);
  });

  it('accepts the documented forms', () => {
    const e = parseEnv({
      ...BASE,
      PORT: '0',
      LABELSYNC_DYNAMODB_PORT: '8000',
      LABELSYNC_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      LOCAL_FILES_SERVING_ENABLED: 'on',
      LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'FALSE',
      LABELSYNC_PUBLIC_BASE_URL: 'https://ls.example.com/',
      LABELSYNC_INLINE_PRESIGN: '1',
      LABELSYNC_SYNC_CHUNK_SIZE: '250',
    });
    expect(e).toMatchObject({
      port: 0,
      dynamodbPort: 8000,
      localFilesServingEnabled: true,
      localFilesStorageEnabled: false,
      publicBaseUrl: 'https://ls.example.com',
      inlinePresign: true,
      syncChunkSize: 250,
    });
    expect(parseEnv(BASE)).toMatchObject({ port: 8080, dynamodbPort: undefined, syncChunkSize: 1000, localFilesStorageEnabled: true });
  });

  it('two apps share no state', () => {
    const a = createApp(BASE);
    const b = createApp(BASE);
    expect(a.db.doc).not.toBe(b.db.doc);
    expect(a.syncDeps()).toBe(a.syncDeps());
    expect(a.syncDeps()).not.toBe(b.syncDeps());
    expect(a.syncDeps().exporter).toBe(a.exporter);
    expect(() => a.requestSyncDeps()).toThrow(/LABELSYNC_STATE_MACHINE_ARN/);
  });
});

describe('a Lambda entry', () => {
  it('fails its module initialisation on a bad variable, naming it', async () => {
    const saved = process.env.LABELSYNC_SYNC_CHUNK_SIZE;
    process.env.LABELSYNC_SYNC_CHUNK_SIZE = 'abc';
    vi.resetModules();
    try {
      await expect(import('../../functions/api/meta')).rejects.toThrow(/LABELSYNC_SYNC_CHUNK_SIZE/);
      await expect(import('../../functions/sync/chunk')).rejects.toThrow(/LABELSYNC_SYNC_CHUNK_SIZE/);
    } finally {
      if (saved === undefined) delete process.env.LABELSYNC_SYNC_CHUNK_SIZE;
      else process.env.LABELSYNC_SYNC_CHUNK_SIZE = saved;
      vi.resetModules();
    }
  });
});
