/**
 * The body of a Pub/Sub push request carrying a Cloud Storage notification (JSON API payload
 * format): `{message: {attributes: {eventType, bucketId, objectId, objectGeneration, …},
 * data: base64(object resource JSON), messageId, publishTime}, subscription}`.
 */
import { ValidationError } from '../../errors';
import type { ObjectEvent } from '../../sync/object-events';

/**
 * What each Cloud Storage event type means for a task. OBJECT_ARCHIVE (a live version became
 * noncurrent) removes the object as a listing would no longer show it; OBJECT_METADATA_UPDATE
 * re-reads it, which the per-key path treats as unchanged when the etag is the same.
 */
const KINDS: Record<string, ObjectEvent['kind']> = {
  OBJECT_FINALIZE: 'created',
  OBJECT_METADATA_UPDATE: 'created',
  OBJECT_DELETE: 'removed',
  OBJECT_ARCHIVE: 'removed',
};

function decodeResource(data: unknown): Record<string, unknown> {
  if (typeof data !== 'string' || data === '') return {};
  try {
    const v = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    throw ValidationError.field('message.data', 'message.data must be base64 of the object resource JSON.');
  }
}

const optStr = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const dateOf = (v: unknown): Date | undefined => {
  const d = typeof v === 'string' ? new Date(v) : undefined;
  return d && Number.isFinite(d.getTime()) ? d : undefined;
};

/**
 * The object event of a push body, for a storage following `bucket`.
 * @returns undefined for a notification that is not an object change (e.g. a test message)
 * @throws ValidationError naming the field for a malformed envelope or another bucket
 */
export function parsePubSubPush(body: unknown, bucket: string): ObjectEvent | undefined {
  const message = (body as { message?: unknown })?.message as Record<string, unknown> | undefined;
  if (!message || typeof message !== 'object') throw ValidationError.field('message', 'This field is required.');
  const attrs = (message.attributes ?? {}) as Record<string, unknown>;
  if (typeof attrs !== 'object') throw ValidationError.field('message.attributes', 'message.attributes must be an object.');
  const eventType = optStr(attrs.eventType);
  if (!eventType) throw ValidationError.field('message.attributes.eventType', 'This field is required.');
  const kind = KINDS[eventType];
  if (!kind) return undefined;
  if (attrs.bucketId !== bucket) throw ValidationError.field('message.attributes.bucketId', `bucketId must be this storage's bucket "${bucket}".`);
  const key = optStr(attrs.objectId);
  if (!key) throw ValidationError.field('message.attributes.objectId', 'This field is required.');
  const generation = optStr(attrs.objectGeneration);
  if (generation !== undefined && !/^\d+$/.test(generation)) throw ValidationError.field('message.attributes.objectGeneration', 'objectGeneration must be an integer.');
  const resource = decodeResource(message.data);
  const size = Number(resource.size);
  return {
    key,
    kind,
    // The generation orders the versions of one object name: it is the sequencer.
    ...(generation !== undefined ? { sequencer: generation } : {}),
    ...(optStr(resource.etag) ? { etag: optStr(resource.etag) } : {}),
    ...(Number.isFinite(size) && resource.size !== undefined ? { size } : {}),
    ...(dateOf(resource.updated) ? { lastModified: dateOf(resource.updated) } : {}),
    ...(optStr(attrs.eventTime) ? { eventTime: optStr(attrs.eventTime) } : {}),
  };
}
