/**
 * The metrics of one export stream batch: how many records were not delivered, and how long the
 * delivered ones took from the table write to the target (stream record creation time → now).
 */
import { countExportFailures, recordExportLatency } from '../metrics';
import type { StreamRecordLike } from './stream-record';

/** Seconds since the epoch (the stream's unit) or a Date (the SDK's unmarshalled form). */
function createdAtMs(r: StreamRecordLike): number | undefined {
  const t = r.dynamodb?.ApproximateCreationDateTime;
  if (t === undefined) return undefined;
  return t instanceof Date ? t.getTime() : t * 1000;
}

/**
 * Records ExportFailures and the ExportLatency of the oldest delivered record (the batch's worst
 * case; one value per batch keeps the EMF line small).
 */
export function recordExportBatch(records: readonly StreamRecordLike[], failedSequenceNumbers: readonly string[], now = Date.now()): void {
  countExportFailures(failedSequenceNumbers.length);
  const failed = new Set(failedSequenceNumbers);
  let oldest: number | undefined;
  for (const r of records) {
    const t = createdAtMs(r);
    if (t === undefined || failed.has(r.dynamodb?.SequenceNumber ?? '')) continue;
    if (oldest === undefined || t < oldest) oldest = t;
  }
  if (oldest !== undefined) recordExportLatency(Math.max(0, now - oldest));
}
