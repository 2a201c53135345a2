/**
 * STS emulator: moto's server, only when the local Python has moto (it cannot be installed
 * offline). `startSts` returns undefined when moto is absent so callers can omit `sts`.
 */
import { commandWorks, freePort, httpAnswers, spawnManaged, waitUntil } from './process';

export interface StsEndpoint {
  endpoint: string;
}

export interface RunningSts extends StsEndpoint {
  stop(): Promise<void>;
}

/** True when `python3 -c 'import moto'` succeeds. */
export function motoAvailable(): Promise<boolean> {
  return commandWorks('python3', ['-c', 'import moto.server']);
}

/** Starts `python3 -m moto.server` on 127.0.0.1, or resolves undefined when moto is missing. */
export async function startSts(opts: { port?: number; timeoutMs?: number } = {}): Promise<RunningSts | undefined> {
  if (!(await motoAvailable())) return undefined;
  const port = opts.port ?? (await freePort());
  const proc = spawnManaged('moto', 'python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)]);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('moto server', () => httpAnswers(`${endpoint}/moto-api/`), {
      timeoutMs: opts.timeoutMs ?? 60_000,
      failed: proc.exited,
    });
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return { endpoint, stop: () => proc.stop() };
}
