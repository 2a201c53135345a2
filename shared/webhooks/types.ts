/**
 * The shapes the webhook modules share: an emitted event, a delivery job on the queue, the queue
 * and the event bus. Type-only.
 */
import type { WebhookAction } from './actions';

/** Something that happened, with its payload snapshot taken at the time. */
export interface LabelsyncEvent {
  action: WebhookAction;
  orgId: string;
  /** The project payload (allow-listed fields); null for organization-level events. */
  project: ({ id: number } & Record<string, unknown>) | null;
  /** The object(s) under the action's payload key: a list for list actions (`tasks`), else one object. */
  objects: Record<string, unknown>[] | Record<string, unknown>;
  /** Other top-level payload keys (`task` of ANNOTATION_CREATED). */
  extra?: Record<string, unknown>;
  /**
   * Stable id of the event. An event emitted again with the same id (a retried sync chunk) is
   * recorded once per webhook. Default: a random id.
   */
  eventId?: string;
}

/** What emits events: never throws, returns within a bounded time. */
export interface EventSink {
  emit(event: LabelsyncEvent): Promise<void>;
}

/** One delivery to attempt. */
export interface DeliveryJob {
  webhookId: number;
  deliveryId: string;
}

/** Where delivery jobs wait: SQS in AWS, an in-process queue in `npm start` and tests. */
export interface DeliveryQueue {
  /**
   * Enqueues jobs, each after its delay (SQS caps delays at 15 minutes and rounds to seconds).
   * @throws Error when the jobs could not be enqueued
   */
  send(jobs: { job: DeliveryJob; delayMs: number }[]): Promise<void>;
}

/** An event as the bus gets it. */
export interface BusEvent {
  detailType: string;
  detail: Record<string, unknown>;
  time: Date;
}

/** Where every event also goes: EventBridge in AWS, a JSONL file or nowhere locally. */
export interface EventBus {
  /** @throws Error when the bus refused the events */
  put(events: BusEvent[]): Promise<void>;
}
