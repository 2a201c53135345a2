/**
 * Request bodies of an event for one webhook, in Label Studio's payload shapes:
 * `{"action", <key>: object(s), ...extra, "project"}`. List actions are split into bodies of at
 * most `batchSize` objects and {@link MAX_BODY_BYTES}. `send_payload=false` sends the thin form:
 * the action, the project id and the object ids (Label Studio sends only the action; receivers
 * then cannot tell what changed).
 */
import { ACTIONS } from './actions';
import type { LabelsyncEvent } from './types';

/** Below SQS's 256 KiB and DynamoDB's 400 KB item: a body is stored on its delivery record. */
export const MAX_BODY_BYTES = 200 * 1024;

const idOnly = (o: Record<string, unknown>) => ({ id: o.id });

/** Bodies of `event` for a webhook with `sendPayload`, each with a suffix for its event id. */
export function eventBodies(event: LabelsyncEvent, sendPayload: boolean, batchSize: number): { suffix: string; body: string }[] {
  const info = ACTIONS[event.action];
  const project = event.project ? (sendPayload ? event.project : { id: event.project.id }) : undefined;
  const wrap = (objects: unknown) =>
    JSON.stringify({ action: event.action, [info.key]: objects, ...(sendPayload ? event.extra : {}), ...(project ? { project } : {}) });
  if (!Array.isArray(event.objects)) return [{ suffix: '', body: wrap(sendPayload ? event.objects : idOnly(event.objects)) }];
  const objects = sendPayload ? event.objects : event.objects.map(idOnly);
  const bodies: string[] = [];
  let batch: unknown[] = [];
  let bytes = Buffer.byteLength(wrap([]));
  for (const o of objects) {
    // One object larger than the cap on its own goes as its id.
    const item = Buffer.byteLength(JSON.stringify(o)) + 1 > MAX_BODY_BYTES / 2 ? idOnly(o) : o;
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (batch.length && (batch.length >= batchSize || bytes + size > MAX_BODY_BYTES)) {
      bodies.push(wrap(batch));
      batch = [];
      bytes = Buffer.byteLength(wrap([]));
    }
    batch.push(item);
    bytes += size;
  }
  if (batch.length || !bodies.length) bodies.push(wrap(batch));
  return bodies.map((body, i) => ({ suffix: bodies.length > 1 ? `.${i}` : '', body }));
}

/** The EventBridge detail of an event (entries stop at 256 KB: objects become ids past the cap). */
export function busDetail(event: LabelsyncEvent, eventId: string): Record<string, unknown> {
  const info = ACTIONS[event.action];
  const full = { action: event.action, event_id: eventId, organization: event.orgId, [info.key]: event.objects, ...event.extra, project: event.project };
  if (Buffer.byteLength(JSON.stringify(full)) <= MAX_BODY_BYTES) return full;
  const ids = Array.isArray(event.objects) ? event.objects.map(idOnly) : idOnly(event.objects);
  return { action: event.action, event_id: eventId, organization: event.orgId, [info.key]: ids, project: event.project ? { id: event.project.id } : null, truncated: true };
}
