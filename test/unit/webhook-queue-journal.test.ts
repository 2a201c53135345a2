/**
 * The in-process delivery queue's journal (shared/webhooks/queue-journal.ts): jobs waiting when
 * a queue closes (a stopped or crashed `npm start`) run from a queue opened later on the same
 * file, handled jobs do not, a torn line is skipped, and a throwing worker call is retried a
 * bounded number of times.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { COMPACT_AFTER, QueueJournal } from '../../shared/webhooks/queue-journal';
import { LOCAL_QUEUE_RUNS, LocalDeliveryQueue } from '../../shared/webhooks/queues';
import type { DeliveryJob } from '../../shared/webhooks/types';

const dirs: string[] = [];
const journalFile = () => {
  const d = mkdtempSync(join(tmpdir(), 'labelsync-queue-'));
  dirs.push(d);
  return join(d, 'webhook-queue.jsonl');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
};

it('jobs waiting when their queue closed run from the next queue on the journal, once', async () => {
  const file = journalFile();
  const first: DeliveryJob[] = [];
  const a = new LocalDeliveryQueue(async (jobs) => void first.push(...jobs), { journal: file });
  await a.send([
    { job: { webhookId: 1, deliveryId: 'due' }, delayMs: 0 },
    { job: { webhookId: 1, deliveryId: 'later' }, delayMs: 200 },
  ]);
  // Closed before any timer could fire (timers run after this task): as a process stopped now.
  a.close();
  expect(first).toEqual([]);

  const second: DeliveryJob[] = [];
  const b = new LocalDeliveryQueue(async (jobs) => void second.push(...jobs), { journal: file });
  expect(b.waiting).toBe(2);
  await until(() => second.length === 2 && b.waiting === 0);
  expect(second.map((j) => j.deliveryId)).toEqual(['due', 'later']);
  b.close();
  // Opening compacts: nothing is left to run.
  const c = new LocalDeliveryQueue(async () => undefined, { journal: file });
  expect(c.waiting).toBe(0);
  expect(readFileSync(file, 'utf8')).toBe('');
  c.close();
});

it('skips a torn line and keeps the jobs around it', () => {
  const file = journalFile();
  const j = new QueueJournal(file);
  j.add('x', { job: { webhookId: 2, deliveryId: 'x' }, dueAt: 1 });
  appendFileSync(file, '{"id":"y","job":{"webhookId":2');
  appendFileSync(file, '\n' + JSON.stringify({ id: 'z', job: { webhookId: 2, deliveryId: 'z' }, dueAt: 2 }) + '\n');
  expect(new QueueJournal(file).entries().map(([id]) => id)).toEqual(['x', 'z']);
});

it('rewrites the file once handled lines pile up', () => {
  const file = journalFile();
  const j = new QueueJournal(file);
  j.add('keep', { job: { webhookId: 3, deliveryId: 'keep' }, dueAt: 1 });
  for (let i = 0; i <= COMPACT_AFTER + 1; i++) {
    j.add(`d${i}`, { job: { webhookId: 3, deliveryId: `d${i}` }, dueAt: 1 });
    j.done(`d${i}`);
  }
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  expect(lines.length).toBeLessThan(COMPACT_AFTER);
  expect(new QueueJournal(file).entries().map(([id]) => id)).toEqual(['keep']);
});

it('runs a job whose worker call throws again, a bounded number of times', async () => {
  const file = journalFile();
  let calls = 0;
  const q = new LocalDeliveryQueue(
    async () => {
      calls++;
      throw new Error('worker down');
    },
    { journal: file, retryMs: 10 },
  );
  await q.send([{ job: { webhookId: 4, deliveryId: 'flaky' }, delayMs: 0 }]);
  await until(() => calls === LOCAL_QUEUE_RUNS && q.waiting === 0);
  await new Promise((r) => setTimeout(r, 100));
  expect(calls).toBe(LOCAL_QUEUE_RUNS);
  q.close();
  expect(new QueueJournal(file).entries()).toEqual([]);
});
