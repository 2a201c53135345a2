/**
 * SQS consumer of webhook delivery jobs (`{webhookId, deliveryId}` per message): one attempt per
 * job through the worker; a job whose table or queue write failed is reported as a batch item
 * failure, so SQS redelivers it (and after maxReceiveCount moves it to the queue's DLQ).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaHandler } from '../../shared/lambda-handler';
import { processApp } from '../../shared/process-app';
import { deliverJobs } from '../../shared/webhooks/deliver';
import type { DeliveryJob } from '../../shared/webhooks/types';

processApp();

// At module scope: a bad environment fails the cold start, naming the variable.
export const handler = lambdaHandler('webhookDeliver', processApp, async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failures: { itemIdentifier: string }[] = [];
  const jobs: { job: DeliveryJob; messageId: string }[] = [];
  for (const r of event.Records) {
    try {
      const job = JSON.parse(r.body) as DeliveryJob;
      if (Number.isSafeInteger(job.webhookId) && typeof job.deliveryId === 'string') jobs.push({ job, messageId: r.messageId });
    } catch {
      // Not a delivery job: dropping it is the only thing to do.
    }
  }
  const failed = await deliverJobs(processApp().webhooks.deliverDeps, jobs.map((j) => j.job));
  for (const i of failed) failures.push({ itemIdentifier: jobs[i].messageId });
  return { batchItemFailures: failures };
});
