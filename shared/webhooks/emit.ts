/**
 * `emit`: turns an event into one pending delivery record per matching webhook (with the body
 * snapshot, written before anything is sent), enqueues a delivery job for each, and puts the event
 * on the event bus. It never throws and never waits longer than {@link EMIT_BUDGET_MS}: an error is
 * logged and counted, the request or sync that caused the event carries on. The receivers are
 * only ever contacted by the delivery worker (deliver.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/repo-common';
import { listOrgWebhooks, recordDelivery, type WebhookItem } from '../db/repo-webhooks';
import { getLogger } from '../logging';
import { countEventEmitError } from '../metrics';
import { ACTIONS, detailTypeOf } from './actions';
import { busDetail, eventBodies } from './payloads';
import type { DeliveryJob, DeliveryQueue, EventBus, EventSink, LabelsyncEvent } from './types';

/** Longest an emitting request waits for the recording; the rest continues in the background. */
export const EMIT_BUDGET_MS = 2_000;

/** A new delivery id: creation time first (newest-first listing), then randomness. */
export function newDeliveryId(now = Date.now()): string {
  return `${String(now).padStart(13, '0')}-${randomBytes(4).toString('hex')}`;
}

/** Does `w` receive `event`? Label Studio's matching; labelsync actions only when listed. */
export function webhookMatches(w: WebhookItem, event: LabelsyncEvent): boolean {
  const info = ACTIONS[event.action];
  if (!w.is_active || w.orgId !== event.orgId) return false;
  const projectId = info.organizationOnly ? null : (event.project?.id ?? null);
  if (w.project !== null && w.project !== projectId) return false;
  if (info.extension) return w.actions.includes(event.action);
  return w.send_for_all_actions || w.actions.includes(event.action);
}

export interface EventSinkDeps {
  db: Db;
  batchSize: number;
  queue: () => DeliveryQueue;
  bus: () => EventBus;
}

/** Records and enqueues the deliveries of `event`; returns how many were recorded. */
async function recordDeliveries(deps: EventSinkDeps, event: LabelsyncEvent, eventId: string): Promise<number> {
  // gsi1 is eventually consistent: a webhook created a moment before the event may not see it.
  const hooks = (await listOrgWebhooks(deps.db, event.orgId)).filter((w) => webhookMatches(w, event));
  const jobs: { job: DeliveryJob; delayMs: number }[] = [];
  const now = new Date().toISOString();
  for (const w of hooks) {
    for (const { suffix, body } of eventBodies(event, w.send_payload, deps.batchSize)) {
      const id = newDeliveryId();
      const d = { id, webhookId: w.id, orgId: w.orgId, event_id: eventId + suffix, action: event.action, status: 'pending' as const, attempts: 0, response_status: null, error: null, body, created_at: now, updated_at: now };
      if (await recordDelivery(deps.db, d)) jobs.push({ job: { webhookId: w.id, deliveryId: id }, delayMs: 0 });
    }
  }
  if (jobs.length) await deps.queue().send(jobs);
  return jobs.length;
}

/** An event sink over the table, the delivery queue and the event bus. */
export function createEventSink(deps: EventSinkDeps): EventSink {
  const log = getLogger('webhooks');
  const guarded = (what: string, p: Promise<unknown>, event: LabelsyncEvent) =>
    p.catch((e) => {
      countEventEmitError();
      log.error(`could not ${what}`, { action: event.action, orgId: event.orgId, error: (e as Error).message });
    });
  return {
    async emit(event) {
      const eventId = event.eventId ?? randomUUID();
      const work = Promise.all([
        guarded('record the webhook deliveries', recordDeliveries(deps, event, eventId), event),
        guarded('put the event on the bus', Promise.resolve().then(() => deps.bus().put([{ detailType: detailTypeOf(event.action), detail: busDetail(event, eventId), time: new Date() }])), event),
      ]);
      let timer: NodeJS.Timeout | undefined;
      const budget = new Promise<void>((r) => {
        timer = setTimeout(() => {
          log.warn('event emission continues in the background', { action: event.action });
          r();
        }, EMIT_BUDGET_MS);
        timer.unref();
      });
      await Promise.race([work.then(() => undefined), budget]);
      clearTimeout(timer);
    },
  };
}
