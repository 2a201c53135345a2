/**
 * Decoding of DynamoDB stream records into annotation changes. The record shape is declared
 * structurally here (Lambda's event and the Streams API's GetRecords share it), so no Lambda or
 * SDK type leaks into the core.
 */
import { ITEM_KINDS } from '../db/schema';
import type { AnnotationItem } from '../db/items';

/** A DynamoDB attribute value in the stream's wire form. */
export type AttributeValueLike = {
  S?: string;
  N?: string;
  B?: string | Uint8Array;
  BOOL?: boolean;
  NULL?: boolean;
  M?: Record<string, AttributeValueLike>;
  L?: AttributeValueLike[];
  SS?: string[];
  NS?: string[];
  BS?: Array<string | Uint8Array>;
};

/** The fields of a stream record the export reads. */
export interface StreamRecordLike {
  eventID?: string;
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE' | string;
  eventSourceARN?: string;
  dynamodb?: {
    Keys?: Record<string, AttributeValueLike>;
    NewImage?: Record<string, AttributeValueLike>;
    OldImage?: Record<string, AttributeValueLike>;
    SequenceNumber?: string;
    /** Epoch seconds in Lambda events, a Date from the Streams SDK. */
    ApproximateCreationDateTime?: number | Date;
  };
}

/** One annotation change, as the exporter acts on it. */
export interface AnnotationChange {
  /** The record's sequence number: the `itemIdentifier` of a batch item failure. */
  sequenceNumber: string;
  /** `upsert` for INSERT/MODIFY (write the newest version), `remove` for REMOVE. */
  op: 'upsert' | 'remove';
  annotationId: number;
  projectId: number;
  /** Version carried by the record (new image for upserts, old image for removes). */
  version: number;
  /** When the change was recorded, epoch ms, when the record says so. */
  recordedAt?: number;
}

/** Converts one attribute value to plain JS (numbers as `number`, binary as Buffer). */
export function fromAttributeValue(v: AttributeValueLike): unknown {
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return Number(v.N);
  if (v.BOOL !== undefined) return v.BOOL;
  if (v.NULL) return null;
  if (v.M !== undefined) return fromImage(v.M);
  if (v.L !== undefined) return v.L.map(fromAttributeValue);
  if (v.SS !== undefined) return [...v.SS];
  if (v.NS !== undefined) return v.NS.map(Number);
  if (v.B !== undefined) return typeof v.B === 'string' ? Buffer.from(v.B, 'base64') : Buffer.from(v.B);
  if (v.BS !== undefined) return v.BS.map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64') : Buffer.from(b)));
  return undefined;
}

/** Converts a stream image (attribute map) to a plain item. */
export function fromImage(image: Record<string, AttributeValueLike>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(image)) out[k] = fromAttributeValue(v);
  return out;
}

/**
 * The annotation change a record carries, or null when the record is about another item kind
 * (the AWS mapping filters those out; the local poller and replays may not). A record that claims
 * to be an annotation but lacks its id, project or sequence number throws: it must not be
 * silently acknowledged.
 */
export function decodeAnnotationRecord(record: StreamRecordLike): AnnotationChange | null {
  const d = record.dynamodb ?? {};
  const remove = record.eventName === 'REMOVE';
  const raw = remove ? d.OldImage : (d.NewImage ?? d.OldImage);
  if (!raw) return null;
  const item = fromImage(raw) as Partial<AnnotationItem> & { kind?: string };
  if (item.kind !== ITEM_KINDS.annotation) return null;
  const id = Number(item.id);
  const projectId = Number(item.projectId);
  const seq = d.SequenceNumber;
  if (!Number.isInteger(id) || !Number.isInteger(projectId) || !seq) {
    throw new Error(`malformed annotation stream record ${record.eventID ?? '(no event id)'}`);
  }
  const t = d.ApproximateCreationDateTime;
  return {
    sequenceNumber: seq,
    op: remove ? 'remove' : 'upsert',
    annotationId: id,
    projectId,
    version: Number(item.version ?? 0),
    recordedAt: t === undefined ? undefined : t instanceof Date ? t.getTime() : t * 1000,
  };
}
