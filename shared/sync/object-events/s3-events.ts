/**
 * S3 notifications as object events (pure). Two shapes are accepted as an SQS message body:
 * EventBridge's (`source: aws.s3`, `detail-type: Object Created | Object Deleted`; keys as S3
 * stores them) and S3's direct notification (`Records[].s3`, keys form-encoded: `red+flower.jpg`).
 * A body of neither shape is unparseable (dropped and counted, never retried).
 */
import type { ObjectEvent } from './types';

/** One object event of one bucket. */
export interface BucketEvent {
  bucket: string;
  /** The 12-digit account that owns the bucket, when the notification says. */
  account?: string;
  event: ObjectEvent;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v && Number.isFinite(Number(v)) ? Number(v) : undefined);

/** S3's form encoding of keys in direct notifications (`+` is a space). */
function decodeFormKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

function eventBridgeEvent(body: Json): BucketEvent[] | undefined {
  if (body.source !== 'aws.s3') return undefined;
  const type = body['detail-type'];
  const kind = type === 'Object Created' ? 'created' : type === 'Object Deleted' ? 'removed' : undefined;
  const detail = obj(body.detail);
  const bucket = str(obj(detail?.bucket)?.name);
  const o = obj(detail?.object);
  const key = str(o?.key);
  if (!kind || !bucket || !key) return undefined;
  const event: ObjectEvent = { key, kind, etag: str(o?.etag), size: num(o?.size), sequencer: str(o?.sequencer), eventTime: str(body.time) };
  return [{ bucket, account: str(body.account), event }];
}

function directEvents(body: Json): BucketEvent[] | undefined {
  if (!Array.isArray(body.Records)) return undefined;
  const out: BucketEvent[] = [];
  for (const r of body.Records as unknown[]) {
    const rec = obj(r);
    const name = str(rec?.eventName) ?? '';
    const kind = name.startsWith('ObjectCreated:') ? 'created' : name.startsWith('ObjectRemoved:') ? 'removed' : undefined;
    const s3 = obj(rec?.s3);
    const bucket = str(obj(s3?.bucket)?.name);
    const o = obj(s3?.object);
    const key = str(o?.key);
    if (!kind || !bucket || !key) return undefined;
    out.push({ bucket, event: { key: decodeFormKey(key), kind, etag: str(o?.eTag), size: num(o?.size), sequencer: str(o?.sequencer), eventTime: str(rec?.eventTime) } });
  }
  return out;
}

/** The object events of one SQS message body, or undefined when it is not an S3 notification. */
export function parseS3Notification(body: string): BucketEvent[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const o = obj(parsed);
  if (!o) return undefined;
  // s3:TestEvent (sent when a direct notification is configured) carries no object.
  if (o.Event === 's3:TestEvent') return [];
  return eventBridgeEvent(o) ?? directEvents(o);
}
