/**
 * Business metrics, as CloudWatch Embedded Metric Format through Powertools Metrics: one instance
 * per process, flushed once per invocation by the handler wrapper (shared/lambda-handler.ts).
 * Inside Lambda the EMF line goes to stdout, where CloudWatch Logs turns it into metrics at no API
 * cost; anywhere else (npm start, tests) it goes to the installed sink or nowhere, so local output
 * stays readable.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EmfOutput } from '@aws-lambda-powertools/metrics/types';
import { getLogger } from './logging';
import { METRIC, METRICS_SERVICE, type MetricName } from './metric-names';

export { METRIC, METRICS_NAMESPACE, METRICS_SERVICE, type MetricName } from './metric-names';

/** Receives each flushed EMF document instead of stdout. */
export type MetricsSink = (emf: EmfOutput) => void;

let instance: Metrics | undefined;
let sink: MetricsSink | undefined;

/** Powertools' own warnings ("no metrics to publish" on every metric-less invocation) at debug level. */
const quietLogger = {
  debug: (...a: unknown[]) => getLogger('metrics').debug(String(a[0])),
  info: (...a: unknown[]) => getLogger('metrics').debug(String(a[0])),
  warn: (...a: unknown[]) => getLogger('metrics').debug(String(a[0])),
  error: (...a: unknown[]) => getLogger('metrics').error(String(a[0])),
};

/** Namespace from POWERTOOLS_METRICS_NAMESPACE (Powertools reads it; the CDK sets it to METRICS_NAMESPACE). */
function metrics(): Metrics {
  return (instance ??= new Metrics({ serviceName: METRICS_SERVICE, logger: quietLogger }));
}

function add(name: MetricName, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): void {
  if (Number.isFinite(value) && value >= 0) metrics().addMetric(name, unit, value);
}

export function countObjectsSynced(n: number): void {
  if (n > 0) add(METRIC.objectsSynced, MetricUnit.Count, n);
}

export function countSyncFailure(): void {
  add(METRIC.syncFailures, MetricUnit.Count, 1);
}

export function recordExportLatency(ms: number): void {
  add(METRIC.exportLatency, MetricUnit.Milliseconds, ms);
}

export function countExportFailures(n: number): void {
  if (n > 0) add(METRIC.exportFailures, MetricUnit.Count, n);
}

/** Outcome of one webhook attempt: delivered (with latency since the event), failed, or dead-lettered. */
export function countWebhookAttempt(outcome: 'delivered' | 'failed' | 'dead_lettered', latencyMs?: number): void {
  if (outcome === 'delivered') {
    add(METRIC.webhookDelivered, MetricUnit.Count, 1);
    if (latencyMs !== undefined) add(METRIC.webhookLatency, MetricUnit.Milliseconds, latencyMs);
    return;
  }
  add(METRIC.webhookFailed, MetricUnit.Count, 1);
  if (outcome === 'dead_lettered') add(METRIC.webhookDeadLettered, MetricUnit.Count, 1);
}

export function countEventEmitError(): void {
  add(METRIC.eventEmitErrors, MetricUnit.Count, 1);
}

export function recordDlqDepth(messages: number): void {
  add(METRIC.dlqDepth, MetricUnit.Count, messages);
}

/** What one event-sync call received, applied and coalesced (shared/sync/object-events/). */
export function countObjectEvents(o: { received: number; applied: number; coalesced: number }): void {
  if (o.received > 0) add(METRIC.eventsReceived, MetricUnit.Count, o.received);
  if (o.applied > 0) add(METRIC.eventsApplied, MetricUnit.Count, o.applied);
  if (o.coalesced > 0) add(METRIC.eventsCoalesced, MetricUnit.Count, o.coalesced);
}

/** Event time → applied, for the oldest applied notification of one event-sync batch. */
export function recordObjectEventLag(ms: number): void {
  add(METRIC.eventLag, MetricUnit.Milliseconds, ms);
}

/** Object notifications that no storage follows. */
export function countObjectEventsDropped(n: number): void {
  if (n > 0) add(METRIC.eventsDropped, MetricUnit.Count, n);
}

/**
 * Flushes what this invocation recorded: to the sink when one is installed, else to stdout when
 * `inLambda`, else drops it. Never throws (an invalid metric must not fail the invocation).
 */
export function publishMetrics(inLambda: boolean): void {
  const m = metrics();
  if (!m.hasStoredMetrics()) return;
  try {
    if (sink) sink(m.serializeMetrics());
    else if (inLambda) m.publishStoredMetrics();
  } catch (e) {
    getLogger('metrics').warn('metrics not published', { error: e as Error });
  } finally {
    m.clearMetrics();
    m.clearDimensions();
    m.clearMetadata();
  }
}

/** Installs `s` as the destination of flushed metrics (undefined: back to the default). */
export function setMetricsSink(s: MetricsSink | undefined): void {
  sink = s;
}

/** The metric names and values of one EMF document (`{ObjectsSynced: 12}`). */
export function metricValues(emf: EmfOutput): Record<string, number | number[]> {
  const out: Record<string, number | number[]> = {};
  for (const d of emf._aws.CloudWatchMetrics) for (const { Name } of d.Metrics) out[Name] = emf[Name] as number | number[];
  return out;
}
