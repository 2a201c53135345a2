/**
 * A real HTTP receiver for the webhook suites on 127.0.0.1: records every request (headers and raw
 * body) per path and answers each path with its scripted statuses (the last one repeats), or
 * never answers (`hang`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export interface Receiver {
  url(path: string): string;
  /** Statuses answered to `path` in turn (the last repeats); `'hang'` never answers. */
  script(path: string, statuses: (number | 'hang')[]): void;
  requests(path: string): Received[];
  /** Resolves once `path` got `n` requests (polls generously: load must not fail it). */
  waitFor(path: string, n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const got: Received[] = [];
  const scripts = new Map<string, (number | 'hang')[]>();
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      got.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const s = scripts.get(path) ?? [200];
      const status = s.length > 1 ? s.shift()! : s[0];
      if (status === 'hang') return void hanging.push(res);
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const requests = (path: string) => got.filter((g) => g.path === path);
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    script: (path, statuses) => void scripts.set(path, [...statuses]),
    requests,
    async waitFor(path, n, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests(path).length < n) {
        if (Date.now() > deadline) throw new Error(`${path}: ${requests(path).length} of ${n} requests within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return requests(path);
    },
    async close() {
      for (const h of hanging) h.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
