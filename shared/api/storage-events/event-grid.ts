/**
 * Azure Event Grid deliveries to a webhook, in the Event Grid schema (a JSON array of
 * `{id, eventType, subject, data, eventTime}`) or the CloudEvents 1.0 schema (one event, or an
 * array in batched mode, with `type` instead of `eventType`): the subscription validation
 * handshake and Blob Storage's BlobCreated / BlobDeleted events.
 */
import { ValidationError } from '../../errors';
import type { ObjectEvent } from '../../sync/object-events';

/** The event type of Event Grid's subscription handshake (Event Grid schema only). */
export const VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';

const KINDS: Record<string, ObjectEvent['kind']> = {
  'Microsoft.Storage.BlobCreated': 'created',
  'Microsoft.Storage.BlobDeleted': 'removed',
};

/** What a delivery asks for: answer a handshake, or apply object events. */
export type EventGridDelivery = { validationCode: string } | { events: ObjectEvent[]; ignored: number };

const optStr = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `/blobServices/default/containers/<c>/blobs/<key>` → container and key. */
function parseSubject(subject: unknown, at: string): { container: string; key: string } {
  const m = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/.exec(typeof subject === 'string' ? subject : '');
  if (!m) throw ValidationError.field(`${at}.subject`, 'subject must be /blobServices/default/containers/<container>/blobs/<name>.');
  return { container: m[1], key: m[2] };
}

function toEvent(e: Record<string, unknown>, type: string, container: string, at: string): ObjectEvent {
  const where = parseSubject(e.subject, at);
  if (where.container !== container) throw ValidationError.field(`${at}.subject`, `subject must name this storage's container "${container}".`);
  const data = (e.data ?? {}) as Record<string, unknown>;
  const size = data.contentLength;
  return {
    key: where.key,
    kind: KINDS[type],
    ...(optStr(data.eTag) ? { etag: optStr(data.eTag)!.replace(/^"|"$/g, '') } : {}),
    ...(typeof size === 'number' && Number.isFinite(size) ? { size } : {}),
    // Blob Storage's sequencer is a hex string of fixed width per blob: lexical order is event order.
    ...(optStr(data.sequencer) ? { sequencer: optStr(data.sequencer) } : {}),
    ...(optStr(e.eventTime ?? e.time) ? { eventTime: optStr(e.eventTime ?? e.time) } : {}),
  };
}

/**
 * Reads a delivery for a storage following `container`. Event types other than the two blob
 * events (and the handshake) are counted as ignored, not refused: a subscription may include more.
 * @throws ValidationError naming the event and field for a malformed event or another container
 */
export function parseEventGrid(body: unknown, container: string): EventGridDelivery {
  const list = Array.isArray(body) ? body : body && typeof body === 'object' ? [body] : undefined;
  if (!list) throw ValidationError.field('non_field_errors', 'Body must be an Event Grid event array or a CloudEvent.');
  const events: ObjectEvent[] = [];
  let ignored = 0;
  for (const [i, raw] of list.entries()) {
    const at = `[${i}]`;
    if (!raw || typeof raw !== 'object') throw ValidationError.field(at, 'Each event must be an object.');
    const e = raw as Record<string, unknown>;
    const type = optStr(e.eventType) ?? optStr(e.type);
    if (!type) throw ValidationError.field(`${at}.eventType`, 'This field is required.');
    if (type === VALIDATION_EVENT) {
      const code = optStr((e.data as Record<string, unknown> | undefined)?.validationCode);
      if (!code) throw ValidationError.field(`${at}.data.validationCode`, 'This field is required.');
      return { validationCode: code };
    }
    if (!KINDS[type]) {
      ignored++;
      continue;
    }
    events.push(toEvent(e, type, container, at));
  }
  return { events, ignored };
}
