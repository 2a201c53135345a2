/**
 * Redis provider contract on redis-server: SCAN-based listing (unordered, at-least-once on
 * resume), values as strings, no presigned URLs. The wrong-password case uses a second,
 * password-protected redis-server started here, because the shared one has no password and
 * Redis accepts any AUTH attempt then.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import type { StorageConfig } from '../../shared/storage/types';
import { runProviderContract } from './provider-contract';
import { testSettings } from './helpers';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

runProviderContract('redis', async () => {
  const r = inject('emulators').redis;
  // db 7: contract data, db 8: the empty database. Flushed so reruns start clean.
  for (const db of [7, 8]) {
    const c = new Redis({ host: r.host, port: r.port, db });
    await c.flushdb();
    c.disconnect();
  }
  const port = await freePort();
  const locked = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'the-real-password'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) break;
    await new Promise((res) => setTimeout(res, 30));
  }
  const base: StorageConfig = { type: 'redis', role: 'import', host: r.host, port: String(r.port), db: 7, path: '' };
  return {
    base,
    scoped: (prefix: string, extra: Partial<StorageConfig> = {}) => ({ ...base, path: `${prefix}/`, ...extra }),
    keyOf: (_p: string, full: string) => full,
    empty: { ...base, db: 8 },
    wrongCredentials: {
      config: { ...base, port: String(port), password: 'wrong-redis-password' },
      secrets: ['wrong-redis-password', 'the-real-password'],
    },
    options: { settings: testSettings() },
    presign: 'unsupported',
    verifiesSignatures: false,
    hierarchical: false,
    placeholders: false,
    importNeedsObject: false,
    notApplicable: {
      missing: 'a Redis database always exists; the server is checked when the storage is created',
      presignRefusal: 'Redis has no presigned URLs (presign answers unsupported)',
    },
    async cleanup() {
      locked.kill('SIGTERM');
    },
  };
});
