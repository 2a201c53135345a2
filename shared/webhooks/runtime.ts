/**
 * The webhook parts of an app (shared/app.ts builds them once per app): the delivery queue (an
 * injected one, SQS on LABELSYNC_WEBHOOK_QUEUE_URL, else the in-process queue feeding the worker),
 * the event bus (an injected one, EventBridge on LABELSYNC_EVENT_BUS_NAME, else the local JSONL
 * file), the event sink over both, and the worker's dependencies. SDK clients load on first use.
 */
import type { Env } from '../config/env';
import type { SecretBox } from '../crypto/secret-box';
import type { Db } from '../db/repo-common';
import { instrumented } from '../aws/instrument';
import type { DeliverDeps } from './deliver';
import { createEventSink } from './emit';
import { EventBridgeBus, localEventBus } from './event-bus';
import { LocalDeliveryQueue, SqsDeliveryQueue } from './queues';
import type { DeliveryQueue, EventBus, EventSink } from './types';

export interface WebhookRuntime {
  events: EventSink;
  deliveryQueue: DeliveryQueue;
  eventBus: EventBus;
  deliverDeps: DeliverDeps;
}

async function sqsClient(region: string) {
  const [{ SQSClient }, { NodeHttpHandler }] = await Promise.all([import('@aws-sdk/client-sqs'), import('@smithy/node-http-handler')]);
  return instrumented(new SQSClient({ region, maxAttempts: 3, requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 5_000 }) }), 'sqs');
}

async function eventBridgeClient(region: string) {
  const [{ EventBridgeClient }, { NodeHttpHandler }] = await Promise.all([import('@aws-sdk/client-eventbridge'), import('@smithy/node-http-handler')]);
  return instrumented(new EventBridgeClient({ region, maxAttempts: 3, requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 5_000 }) }), 'events');
}

const once = <T>(make: () => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= make().catch((e) => { p = undefined; throw e; }));
};

/** Builds the webhook runtime of an app. */
export function buildWebhookRuntime(env: Env, db: Db, secretBox: SecretBox, parts: { deliveryQueue?: DeliveryQueue; eventBus?: EventBus }): WebhookRuntime {
  const s = env.webhooks;
  let queue: DeliveryQueue;
  const deliverDeps: DeliverDeps = { db, secretBox, settings: s, allowedEndpoints: env.allowedEndpoints, queue: () => queue };
  if (parts.deliveryQueue) queue = parts.deliveryQueue;
  else if (s.queueUrl) queue = new SqsDeliveryQueue(once(() => sqsClient(env.region)), s.queueUrl);
  else queue = new LocalDeliveryQueue(async (jobs) => (await import('./deliver')).deliverJobs(deliverDeps, jobs));
  const eventBus = parts.eventBus ?? (s.eventBusName ? new EventBridgeBus(once(() => eventBridgeClient(env.region)), s.eventBusName) : localEventBus(env.dataDir));
  const events = createEventSink({ db, batchSize: s.batchSize, queue: () => queue, bus: () => eventBus });
  return { events, deliveryQueue: queue, eventBus, deliverDeps };
}
