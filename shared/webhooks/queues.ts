/**
 * The delivery queue behind {@link DeliveryQueue}: SQS in AWS (the `webhookDeliver` function
 * consumes it), an in-process timer queue in `npm start` and tests that hands due jobs to the same
 * worker (deliverJobs). With a journal file (`npm start`: `<data dir>/webhook-queue.jsonl`) the
 * in-process queue keeps its waiting jobs across restarts, as SQS does.
 */
import { randomUUID } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { getLogger } from '../logging';
import { MAX_RETRY_DELAY_MS } from './deliver';
import { QueueJournal } from './queue-journal';
import type { DeliveryJob, DeliveryQueue } from './types';

/** The journal's file name in `npm start`'s data dir. */
export const WEBHOOK_QUEUE_FILE = 'webhook-queue.jsonl';

/** Runs of a job in all when its worker call throws (SQS's redrive), and the wait before the first rerun. */
export const LOCAL_QUEUE_RUNS = 3;
export const LOCAL_QUEUE_RETRY_MS = 5_000;

/** In-process queue: each job runs on a timer after its delay. */
export class LocalDeliveryQueue implements DeliveryQueue {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly journal?: QueueJournal;
  private readonly retryMs: number;

  constructor(
    private readonly consume: (jobs: DeliveryJob[]) => Promise<unknown>,
    opts: { journal?: string; retryMs?: number } = {},
  ) {
    this.retryMs = opts.retryMs ?? LOCAL_QUEUE_RETRY_MS;
    if (opts.journal) {
      this.journal = new QueueJournal(opts.journal);
      for (const [id, e] of this.journal.entries()) this.schedule(id, e.job, e.dueAt, 0);
    }
  }

  async send(jobs: { job: DeliveryJob; delayMs: number }[]): Promise<void> {
    for (const { job, delayMs } of jobs) {
      const id = randomUUID();
      const dueAt = Date.now() + Math.min(delayMs, MAX_RETRY_DELAY_MS);
      this.journal?.add(id, { job, dueAt });
      this.schedule(id, job, dueAt, 0);
    }
  }

  private schedule(id: string, job: DeliveryJob, dueAt: number, failures: number): void {
    const t = setTimeout(() => {
      this.timers.delete(id);
      this.consume([job]).then(
        () => this.journal?.done(id),
        (e) => {
          const log = getLogger('webhooks');
          if (failures + 1 >= LOCAL_QUEUE_RUNS) {
            log.error('local delivery failed; the delivery stays pending', { ...job, error: (e as Error).message });
            this.journal?.done(id);
            return;
          }
          log.warn('local delivery failed; retrying', { ...job, error: (e as Error).message });
          // Jittered, doubling: a worker that fails for everyone is not hammered in lockstep.
          this.schedule(id, job, Date.now() + this.retryMs * 2 ** failures * (0.5 + Math.random() / 2), failures + 1);
        },
      );
    }, Math.max(0, dueAt - Date.now()));
    // Waiting deliveries do not keep a finished process alive.
    t.unref();
    this.timers.set(id, t);
  }

  /** Jobs waiting for their timer. */
  get waiting(): number {
    return this.timers.size;
  }

  /** Stops the timers; journaled jobs wait for the next queue opened on the journal. */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

/** SQS queue: SendMessageBatch, ten messages a call, DelaySeconds rounded up and capped at 900. */
export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly client: () => Promise<SQSClient>,
    private readonly queueUrl: string,
  ) {}

  async send(jobs: { job: DeliveryJob; delayMs: number }[]): Promise<void> {
    const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
    const client = await this.client();
    for (let i = 0; i < jobs.length; i += 10) {
      const entries = jobs.slice(i, i + 10).map(({ job, delayMs }, n) => ({
        Id: String(n),
        MessageBody: JSON.stringify(job),
        DelaySeconds: Math.min(900, Math.ceil(delayMs / 1000)),
      }));
      const res = await client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }), { abortSignal: AbortSignal.timeout(5_000) });
      if (res.Failed?.length) throw new Error(`SQS refused ${res.Failed.length} delivery jobs: ${res.Failed[0].Code} ${res.Failed[0].Message ?? ''}`);
    }
  }
}
