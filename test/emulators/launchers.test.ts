import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, test } from 'vitest';
import { ensureTable } from '../../local/dynamodb-table';
import { startDynamoDbLocal, startEmulators, startRedis } from '../../local/emulators';

// These start their own short-lived emulators (the shared ones come from the global setup).
const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function withPath<T>(value: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = value;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe('emulator launchers', () => {
  test('DynamoDB Local with dbPath keeps table and items across a restart, and stop ends the JVM', async () => {
    const dbPath = await mkdtemp(path.join(os.tmpdir(), 'labelsync-ddb-'));
    try {
      const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
      // quickStart (C1-only JIT): persistence is the point here, not throughput; it halves each JVM start.
      const first = await startDynamoDbLocal({ dbPath, maxHeap: '256m', quickStart: true });
      const c1 = new DynamoDBClient({ endpoint: first.endpoint, region: first.region, credentials });
      await ensureTable(c1, 'persisted');
      await ensureTable(c1, 'persisted'); // idempotent
      await c1.send(new PutItemCommand({ TableName: 'persisted', Item: { pk: { S: 'p' }, sk: { S: 's' }, v: { N: '7' } } }));
      c1.destroy();
      await first.stop();
      expect(alive(first.pid)).toBe(false);

      const second = await startDynamoDbLocal({ dbPath, maxHeap: '256m', quickStart: true });
      const c2 = new DynamoDBClient({ endpoint: second.endpoint, region: second.region, credentials });
      const { Item } = await c2.send(new GetItemCommand({ TableName: 'persisted', Key: { pk: { S: 'p' }, sk: { S: 's' } } }));
      expect(Item?.v).toEqual({ N: '7' });
      c2.destroy();
      await second.stop();
    } finally {
      await rm(dbPath, { recursive: true, force: true });
    }
    // Two JVM starts: ~5 s on an idle box, far more when the 2 cores are shared with the suite.
  }, 180_000);

  test('startEmulators({only}) starts just the requested services and stop frees their ports', async () => {
    const running = await startEmulators({ only: ['gcs', 'redis'] });
    expect(Object.keys(running.endpoints).sort()).toEqual(['gcs', 'gcsCredentials', 'redis']);
    const { redis, gcs } = running.endpoints;
    const res = await fetch(`${gcs!.apiEndpoint}/storage/v1/b?project=x`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await running.stop();
    await expect(fetch(`${gcs!.apiEndpoint}/storage/v1/b`)).rejects.toThrow();
    const net = await import('node:net');
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: redis!.host, port: redis!.port });
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  test('a missing redis-server or java fails with the install command, not a skip', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'labelsync-nopath-'));
    try {
      await withPath(empty, async () => {
        await expect(startRedis()).rejects.toThrow(/apt-get install -y redis-server/);
        await expect(startDynamoDbLocal()).rejects.toThrow(/default-jre-headless/);
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  test('the S3 emulator refuses to start without --openssl-legacy-provider and says why', async () => {
    const tsx = path.resolve('node_modules/tsx/dist/cli.mjs');
    const script = "import('./local/emulators/s3.ts').then((m) => m.startS3()).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); })";
    const env = { ...process.env, NODE_OPTIONS: '' };
    const err = await promisify(execFile)(process.execPath, [tsx, '-e', script], { env, timeout: 30_000 }).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(err?.code).toBe(3);
    expect(err?.stderr).toMatch(/--openssl-legacy-provider/);
  });
});
