import { describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import type { LambdaHandler } from '../../local/lambda-functions';
import { startLocalSchedules } from '../../local/schedules';

/** Resolves handlers to `fn` and records which functions were asked for. */
function resolver(fn: LambdaHandler) {
  const asked: FunctionName[] = [];
  return { asked, resolveHandler: async (name: FunctionName) => (asked.push(name), fn) };
}

const waitFor = async (ok: () => boolean, ms = 5_000) => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('local schedules (npm start runs scheduled functions like EventBridge)', () => {
  it('runAtStart runs exactly the scheduled functions at once, with a scheduled event and a Lambda context of the manifest timeout', async () => {
    const calls: { event: any; remaining: number; fn: string }[] = [];
    const r = resolver(async (event, context) => (calls.push({ event, remaining: context.getRemainingTimeInMillis(), fn: context.functionName }), 'ok'));
    const s = startLocalSchedules({ resolveHandler: r.resolveHandler, region: 'eu-west-1', log: () => {}, runAtStart: true });
    try {
      await waitFor(() => calls.length === 2);
      expect(r.asked.sort()).toEqual(['exportReplay', 'sweeper']);
      for (const c of calls) {
        const name = r.asked.find((n) => c.fn.endsWith(n))!;
        expect(c.event).toMatchObject({ 'detail-type': 'Scheduled Event', source: 'aws.events', region: 'eu-west-1' });
        expect(c.remaining).toBeGreaterThan(FUNCTIONS[name].timeout * 1000 - 40_000);
        expect(c.remaining).toBeLessThanOrEqual(FUNCTIONS[name].timeout * 1000);
      }
    } finally {
      s.stop();
    }
  });

  it('a run while one is in progress is skipped; a failed run does not block the next', async () => {
    let release!: () => void;
    let n = 0;
    const r = resolver(async () => {
      n += 1;
      if (n === 1) await new Promise<void>((res) => (release = res));
      if (n === 2) throw new Error('table unreachable');
      return n;
    });
    const logs: string[] = [];
    const s = startLocalSchedules({ resolveHandler: r.resolveHandler, region: 'us-east-1', log: (m) => logs.push(m), runAtStart: false });
    try {
      const first = s.run('sweeper');
      await waitFor(() => n === 1);
      expect(await s.run('sweeper')).toBeUndefined();
      release();
      expect(await first).toBe(1);
      await expect(s.run('sweeper')).rejects.toThrow('table unreachable');
      expect(await s.run('sweeper')).toBe(3);
    } finally {
      s.stop();
    }
    expect(logs).toEqual([]);
  });

  it('a failing scheduled run is logged (not retried) and stop() ends the schedule', async () => {
    const logs: string[] = [];
    const r = resolver(async () => {
      throw new Error('boom');
    });
    const s = startLocalSchedules({ resolveHandler: r.resolveHandler, region: 'us-east-1', log: (m) => logs.push(m), runAtStart: true });
    await waitFor(() => logs.length === 2);
    s.stop();
    expect(logs.sort()).toEqual(['[runtime] scheduled exportReplay failed: boom', '[runtime] scheduled sweeper failed: boom']);
    expect(r.asked.sort()).toEqual(['exportReplay', 'sweeper']);
  });
});
