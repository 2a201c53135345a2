/**
 * The delivery worker: one attempt per job. It claims the attempt on the delivery record (a job
 * seen twice sends once), signs and POSTs the stored body, then records the outcome: delivered;
 * pending again with the job re-enqueued after a jittered exponential backoff (retryable failure,
 * attempts left); or failed for good (the dead-letter record `GET /api/webhooks/{id}/deliveries?status=failed`
 * shows), which counts towards the webhook's `consecutive_failures` and its deactivation.
 */
import type { SecretBox } from '../crypto/secret-box';
import type { WebhookEnv } from '../config/env';
import type { Db } from '../db/repo-common';
import { claimDeliveryAttempt, countWebhookFailure, getDelivery, getWebhook, resetWebhookFailures, setDeliveryOutcome, type DeliveryItem, type WebhookItem } from '../db/repo-webhooks';
import { getLogger } from '../logging';
import { countWebhookAttempt } from '../metrics';
import { sendWebhook, type SendResult } from './send';
import { DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature';
import type { DeliveryJob, DeliveryQueue } from './types';

/** SQS's largest DelaySeconds. */
export const MAX_RETRY_DELAY_MS = 15 * 60 * 1000;

export interface DeliverDeps {
  db: Db;
  secretBox: SecretBox;
  settings: WebhookEnv;
  allowedEndpoints: string[];
  queue: () => DeliveryQueue;
  random?: () => number;
}

/** Delay before attempt `attempt + 1`: base × 4^(attempt-1), capped, with equal jitter (half fixed, half random). */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const d = Math.min(baseMs * 4 ** Math.max(0, attempt - 1), MAX_RETRY_DELAY_MS);
  return Math.round(d / 2 + random() * (d / 2));
}

/** The secrets a delivery is signed with: the current one, and the previous one while its overlap lasts. */
async function signingSecrets(box: SecretBox, w: WebhookItem): Promise<string[]> {
  const secrets = [await box.decrypt(w.secret_enc)];
  if (w.previous_secret_enc && w.previous_secret_until && Date.parse(w.previous_secret_until) > Date.now()) secrets.push(await box.decrypt(w.previous_secret_enc));
  return secrets;
}

/** Headers names the user's `headers` may not set (compared lower-cased). */
export const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'user-agent', 'transfer-encoding', 'connection', SIGNATURE_HEADER, EVENT_ID_HEADER, DELIVERY_ID_HEADER].map((h) => h.toLowerCase());

async function requestHeaders(box: SecretBox, w: WebhookItem, d: DeliveryItem): Promise<Record<string, string>> {
  const user = w.headers_enc ? (JSON.parse(await box.decrypt(w.headers_enc)) as Record<string, string>) : {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(user)) if (!RESERVED_HEADERS.includes(k.toLowerCase()) && !k.toLowerCase().startsWith('x-labelsync-')) out[k] = v;
  return {
    ...out,
    'content-type': 'application/json',
    'user-agent': 'labelsync-webhooks/1',
    [SIGNATURE_HEADER]: signatureHeader(await signingSecrets(box, w), d.body),
    [EVENT_ID_HEADER]: d.event_id,
    [DELIVERY_ID_HEADER]: d.id,
  };
}

/** Attempts one delivery job. @throws Error only when the table or the queue failed (the job is retried). */
export async function deliverJob(deps: DeliverDeps, job: DeliveryJob): Promise<void> {
  const { db } = deps;
  const log = getLogger('webhooks');
  const d = await getDelivery(db, job.webhookId, job.deliveryId);
  if (!d || d.status !== 'pending') return;
  const w = await getWebhook(db, job.webhookId);
  if (!w || !w.is_active) {
    await setDeliveryOutcome(db, d, { status: 'failed', response_status: null, error: w ? 'the webhook is not active' : 'the webhook was deleted' });
    return;
  }
  if (!(await claimDeliveryAttempt(db, d))) return;
  const attempt = d.attempts + 1;
  const result: SendResult = await sendWebhook({
    url: w.url,
    body: d.body,
    headers: await requestHeaders(deps.secretBox, w, d),
    timeoutMs: deps.settings.timeoutMs,
    allowedEndpoints: deps.allowedEndpoints,
  });
  const outcome = { response_status: result.status, error: result.error };
  if (result.ok) {
    await setDeliveryOutcome(db, d, { status: 'delivered', ...outcome });
    if (w.consecutive_failures) await resetWebhookFailures(db, w.id);
    countWebhookAttempt('delivered', Date.now() - Date.parse(d.created_at));
    return;
  }
  if (result.retryable && attempt < deps.settings.maxAttempts) {
    await setDeliveryOutcome(db, d, { status: 'pending', ...outcome });
    countWebhookAttempt('failed');
    await deps.queue().send([{ job, delayMs: retryDelayMs(attempt, deps.settings.retryBaseMs, deps.random) }]);
    return;
  }
  await setDeliveryOutcome(db, d, { status: 'failed', ...outcome });
  countWebhookAttempt('dead_lettered');
  const { failures, deactivated } = await countWebhookFailure(db, w.id, deps.settings.maxConsecutiveFailures);
  log.warn('webhook delivery failed for good', { webhookId: w.id, deliveryId: d.id, attempts: attempt, error: result.error });
  if (deactivated) log.warn('webhook deactivated after consecutive failures', { webhookId: w.id, failures });
}

/**
 * Attempts a batch of jobs concurrently; returns the indexes of the jobs that must be retried
 * (the Lambda handler reports them as SQS batch item failures).
 */
export async function deliverJobs(deps: DeliverDeps, jobs: DeliveryJob[]): Promise<number[]> {
  const results = await Promise.allSettled(jobs.map((j) => deliverJob(deps, j)));
  const failed: number[] = [];
  results.forEach((r, i) => {
    if (r.status === 'rejected') {
      failed.push(i);
      getLogger('webhooks').error('delivery job failed', { ...jobs[i], error: (r.reason as Error)?.message });
    }
  });
  return failed;
}
