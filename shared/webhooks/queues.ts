/**
 * The delivery queue behind {@link DeliveryQueue}: SQS in AWS (the `webhookDeliver` function
 * consumes it), an in-process timer queue in `npm start` and tests that hands due jobs to the same
 * worker (deliverJobs). The in-process queue keeps nothing across restarts: deliveries left
 * `pending` then are not retried.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { getLogger } from '../logging';
import { MAX_RETRY_DELAY_MS } from './deliver';
import type { DeliveryJob, DeliveryQueue } from './types';

/** In-process queue: each job runs on a timer after its delay. */
export class LocalDeliveryQueue implements DeliveryQueue {
  private readonly timers = new Set<NodeJS.Timeout>();
  constructor(private readonly consume: (jobs: DeliveryJob[]) => Promise<unknown>) {}

  async send(jobs: { job: DeliveryJob; delayMs: number }[]): Promise<void> {
    for (const { job, delayMs } of jobs) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.consume([job]).catch((e) => getLogger('webhooks').error('local delivery failed', { ...job, error: (e as Error).message }));
      }, Math.min(delayMs, MAX_RETRY_DELAY_MS));
      // Waiting deliveries do not keep a finished process alive.
      t.unref();
      this.timers.add(t);
    }
  }

  /** Jobs waiting for their timer. */
  get waiting(): number {
    return this.timers.size;
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
