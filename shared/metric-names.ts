/**
 * Names of the service's business metrics, shared by the code that emits them (shared/metrics.ts)
 * and the CDK dashboard and docs that read them. No imports: the CDK app loads it.
 */

/** The CloudWatch namespace and `service` dimension (the CDK sets POWERTOOLS_METRICS_NAMESPACE to it). */
export const METRICS_NAMESPACE = 'labelsync';
export const METRICS_SERVICE = 'labelsync';

export const METRIC = {
  /** Objects a sync chunk turned into tasks (import) or target objects (export); Count. */
  objectsSynced: 'ObjectsSynced',
  /** Sync jobs that finished `failed`; Count. */
  syncFailures: 'SyncFailures',
  /** Annotation change → written to the target, from the stream record's creation time; Milliseconds. */
  exportLatency: 'ExportLatency',
  /** Export records that could not be delivered (left to retry or the DLQ); Count. */
  exportFailures: 'ExportFailures',
  /** Messages in the export dead-letter queue, when something measured it; Count. */
  dlqDepth: 'ExportDlqDepth',
  /** Webhook POSTs answered 2xx; Count. */
  webhookDelivered: 'WebhookDeliveriesSent',
  /** Webhook attempts that failed (each retry counts); Count. */
  webhookFailed: 'WebhookDeliveriesFailed',
  /** Webhook deliveries that exhausted their attempts (dead-lettered); Count. */
  webhookDeadLettered: 'WebhookDeliveriesDeadLettered',
  /** Event time → successful POST of a webhook delivery; Milliseconds. */
  webhookLatency: 'WebhookDeliveryLatency',
  /** Events that could not be recorded for delivery or put on the event bus (logged); Count. */
  eventEmitErrors: 'EventEmitErrors',
  /** Object notifications handed to event sync (storage found); Count. */
  eventsReceived: 'ObjectEventsReceived',
  /** Object notifications that changed tasks (created, updated, removed, flagged); Count. */
  eventsApplied: 'ObjectEventsApplied',
  /** Object notifications for no storage that follows events (unfollowed bucket, unparseable message); Count. */
  eventsDropped: 'ObjectEventsDropped',
  /** Object notifications folded into a newer one of the same key; Count. */
  eventsCoalesced: 'ObjectEventsCoalesced',
  /**
   * Event time of a notification → its batch applied (tasks readable), for the oldest applied
   * notification of each batch that carries one (S3, GCS, Azure); Milliseconds.
   */
  eventLag: 'ObjectEventLag',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
