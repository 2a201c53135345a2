/** Redis emulator: the Debian `redis-server` binary, no persistence, stopped by PID. */
import net from 'node:net';
import { commandWorks, freePort, spawnManaged, waitUntil } from './process';

export interface RedisEndpoint {
  host: string;
  port: number;
}

export interface RunningRedis extends RedisEndpoint {
  stop(): Promise<void>;
}

function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/** Starts `redis-server` on 127.0.0.1 and waits for PONG. */
export async function startRedis(opts: { port?: number; timeoutMs?: number } = {}): Promise<RunningRedis> {
  if (!(await commandWorks('redis-server', ['--version']))) {
    throw new Error('redis-server was not found; install it: apt-get update && apt-get install -y redis-server');
  }
  const host = '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const proc = spawnManaged('redis-server', 'redis-server', [
    '--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
  ]);
  try {
    await waitUntil('redis-server', () => ping(host, port), { timeoutMs: opts.timeoutMs ?? 30_000, failed: proc.exited });
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return { host, port, stop: () => proc.stop() };
}
