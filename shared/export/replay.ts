/**
 * DLQ replay of the export stream. `recordDlqMessages` (the replay function on the DLQ) turns each
 * dead-lettered batch into failure records; `reexportRecordedFailures` (the replay function on its
 * schedule, and the script) delivers them; `replaySqsDlq` is the script's manual path.
 *
 * AWS: the event source mapping's on-failure destination (SQS) receives, per batch given up, only
 * metadata (`DDBStreamBatchInfo`: stream, shard, first/last sequence number, batch size), not the
 * records. `readFailedBatch` reads the records back from the stream with GetShardIterator
 * AT_SEQUENCE_NUMBER while they are still retained (24 h); after that (`expired`), the annotations
 * are re-exported from the table through the failures recorded by the handler (shared/db/repo-export-failures.ts).
 * Locally the JSONL DLQ holds the records themselves (local/dlq.ts); the same sweep follows.
 * Either way the handler is the normal one: version-guarded, so replaying twice is harmless.
 */
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { readStreamRange } from '../db/stream-batches';
import type { ExportDeps } from './deps';
import { clearExportFailure, listExportFailures, recordExportFailure, type ExportFailure } from '../db/repo-export-failures';
import type { Db } from '../db/repo-common';
import { getLogger } from '../logging';
import { recordDlqDepth } from '../metrics';
import { failureOf, groupChanges, processAnnotationChanges, processAnnotationRecords } from './process-records';
import { decodeAnnotationRecord, type AnnotationChange, type StreamRecordLike } from './stream-record';

/** The part of Lambda's on-failure record for a DynamoDB stream source that replay needs. */
export interface StreamBatchInfo {
  streamArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  batchSize?: number;
}

/**
 * Parses an SQS on-failure message body of the export mapping.
 * @throws Error when the body is not such a record
 */
export function parseOnFailureMessage(body: string): StreamBatchInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error('DLQ message is not JSON');
  }
  const info = (parsed as { DDBStreamBatchInfo?: Partial<StreamBatchInfo> })?.DDBStreamBatchInfo;
  if (!info?.streamArn || !info.shardId || !info.startSequenceNumber || !info.endSequenceNumber) {
    throw new Error('DLQ message has no DDBStreamBatchInfo (stream, shard and sequence range)');
  }
  return {
    streamArn: info.streamArn,
    shardId: info.shardId,
    startSequenceNumber: info.startSequenceNumber,
    endSequenceNumber: info.endSequenceNumber,
    batchSize: info.batchSize,
  };
}

/**
 * The records of a failed batch, read back from the stream (first to last sequence number,
 * inclusive), or `expired` when the stream no longer has them (see shared/db/stream-batches.ts).
 */
export async function readFailedBatch(
  streams: Pick<DynamoDBStreamsClient, 'send'>,
  info: StreamBatchInfo,
  opts: { maxCalls?: number } = {},
): Promise<StreamRecordLike[] | 'expired'> {
  return (await readStreamRange(streams, info, opts)) as StreamRecordLike[] | 'expired';
}

/** Result of a sweep of recorded failures. */
export interface SweepResult {
  /** Annotations exported (or deleted) again successfully; their failure items are cleared. */
  reexported: number;
  /** Annotations that failed again (their items stay for the next replay). */
  failed: number;
}

/**
 * Re-exports every annotation recorded as failed, from the table: upserts re-read the annotation
 * and write its newest version to every target (skipped where already there), removes delete
 * and tombstone again. Page by page; never holds the whole list. `only` limits the sweep (e.g.
 * to one project).
 */
export async function reexportRecordedFailures(
  deps: ExportDeps,
  opts: { only?: (f: ExportFailure) => boolean; /** Epoch ms after which no new page is started (a Lambda's timeout). */ deadline?: number } = {},
): Promise<SweepResult> {
  const res: SweepResult = { reexported: 0, failed: 0 };
  for await (const all of listExportFailures(deps.db)) {
    if (opts.deadline !== undefined && Date.now() > opts.deadline) break;
    const page = opts.only ? all.filter(opts.only) : all;
    if (!page.length) continue;
    const changes: AnnotationChange[] = page.map((f) => ({
      sequenceNumber: `xfail-${f.annotationId}`,
      op: f.op,
      annotationId: f.annotationId,
      projectId: f.projectId,
      version: f.version,
    }));
    const r = await processAnnotationChanges(deps, changes);
    // A change recorded again (its target is still misconfigured) is not re-exported either.
    const failed = new Set([...r.failures, ...r.recorded]);
    for (const f of page) {
      if (failed.has(`xfail-${f.annotationId}`)) res.failed++;
      else {
        res.reexported++;
        await clearExportFailure(deps.db, f);
      }
    }
  }
  return res;
}

/** Outcome of an SQS DLQ replay. */
export interface SqsReplayResult {
  messages: number;
  /** Batches read back from the stream and delivered without failure (messages deleted). */
  replayed: number;
  /** Batches no longer in the stream: covered by the sweep (deleted when the sweep had no failure). */
  expired: number;
  /** Batches that failed again or could not be parsed (left in the queue). */
  failed: number;
  sweep: SweepResult;
}

/**
 * Replays the export DLQ (SQS): every message's batch is read back from the stream and handled
 * again; batches the stream no longer has are covered by re-exporting the recorded failures from
 * the table. A message is deleted only once its annotations were delivered; the rest stay in the
 * queue (invisible for `visibilitySeconds`, so one run sees each message once).
 */
export async function replaySqsDlq(opts: {
  deps: ExportDeps;
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
  streams: Pick<DynamoDBStreamsClient, 'send'>;
  maxMessages?: number;
  visibilitySeconds?: number;
  /** Limits the sweep of recorded failures (default: all). */
  only?: (f: ExportFailure) => boolean;
  log?: (m: string) => void;
}): Promise<SqsReplayResult> {
  const log = opts.log ?? (() => {});
  const res: SqsReplayResult = { messages: 0, replayed: 0, expired: 0, failed: 0, sweep: { reexported: 0, failed: 0 } };
  const expired: string[] = [];
  const del = (handle: string) => opts.sqs.send(new DeleteMessageCommand({ QueueUrl: opts.queueUrl, ReceiptHandle: handle }));
  while (res.messages < (opts.maxMessages ?? 10_000)) {
    const r = await opts.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: opts.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: opts.visibilitySeconds ?? 300 }),
    );
    const msgs = r.Messages ?? [];
    if (!msgs.length) break;
    for (const m of msgs) {
      res.messages++;
      let info: StreamBatchInfo;
      try {
        info = parseOnFailureMessage(m.Body ?? '');
      } catch (e) {
        res.failed++;
        log(`message ${m.MessageId}: ${(e as Error).message} (left in the queue)`);
        continue;
      }
      const records = await readFailedBatch(opts.streams, info);
      if (records === 'expired') {
        res.expired++;
        expired.push(m.ReceiptHandle!);
        log(`message ${m.MessageId}: records no longer in the stream; re-exporting recorded failures from the table`);
        continue;
      }
      const out = await processAnnotationRecords(opts.deps, records);
      if (out.failures.length) {
        res.failed++;
        log(`message ${m.MessageId}: ${out.failures.length} of ${records.length} records failed again (left in the queue)`);
      } else {
        res.replayed++;
        await del(m.ReceiptHandle!);
      }
    }
  }
  res.sweep = await reexportRecordedFailures(opts.deps, { only: opts.only });
  if (res.sweep.failed === 0) for (const h of expired) await del(h);
  return res;
}

/**
 * Turns a dead-lettered batch into recorded failures (one per annotation, its last change), so
 * the scheduled replay re-exports it from the table: what a crashed or timed-out invocation never
 * recorded itself. The SQS message holds only the shard and sequence range, so the records are
 * read back from the stream (24 h retention: the on-failure destination triggers this at once).
 * @returns the annotations recorded, or `expired` when the stream no longer has the records
 */
export async function recordDeadLetteredBatch(
  db: Db,
  streams: Pick<DynamoDBStreamsClient, 'send'>,
  info: StreamBatchInfo,
): Promise<number | 'expired'> {
  const records = await readFailedBatch(streams, info);
  if (records === 'expired') return 'expired';
  return recordChangesAsFailures(db, records);
}

/** Records every annotation changed by `records` as a failed export; undecodable records are skipped. */
export async function recordChangesAsFailures(db: Db, records: readonly StreamRecordLike[]): Promise<number> {
  const changes: AnnotationChange[] = [];
  for (const r of records) {
    try {
      const c = decodeAnnotationRecord(r);
      if (c) changes.push(c);
    } catch {
      // Not an annotation change this code can read: nothing to re-export.
    }
  }
  const groups = groupChanges(changes);
  for (const g of groups) await recordExportFailure(db, failureOf(g));
  return groups.length;
}

/** An SQS message as the replay function receives it (SQS event source). */
export interface DlqMessage {
  messageId: string;
  body: string;
}

/**
 * The DLQ consumer: records the failures of every dead-lettered batch. Returns the ids of the
 * messages to retry (SQS partial batch response): a table or stream error. A message that cannot
 * be parsed, or whose records the stream no longer has, is logged and dropped: retrying cannot
 * bring it back, and the failures the handler recorded itself are still swept.
 */
export async function recordDlqMessages(
  db: Db,
  streams: Pick<DynamoDBStreamsClient, 'send'>,
  messages: readonly DlqMessage[],
): Promise<string[]> {
  const log = getLogger('export');
  const retry: string[] = [];
  for (const m of messages) {
    let info: StreamBatchInfo;
    try {
      info = parseOnFailureMessage(m.body);
    } catch (e) {
      log.error('export DLQ message dropped', { messageId: m.messageId, error: (e as Error).message });
      continue;
    }
    try {
      const n = await recordDeadLetteredBatch(db, streams, info);
      if (n === 'expired') log.error('export DLQ batch no longer in the stream: only failures the handler recorded are replayed', { messageId: m.messageId, ...info });
      else log.info('export DLQ batch recorded for replay', { messageId: m.messageId, annotations: n });
    } catch (e) {
      log.error('export DLQ batch not recorded; retried', { messageId: m.messageId, error: (e as Error).message });
      retry.push(m.messageId);
    }
  }
  return retry;
}

/**
 * The export DLQ's depth (SQS's approximate count of visible messages), recorded as the
 * ExportDlqDepth metric. The DLQ alarm reads SQS's own metric; this puts the depth beside the
 * export metrics of the dashboard at each scheduled replay.
 */
export async function measureDlqDepth(sqs: Pick<SQSClient, 'send'>, queueUrl: string): Promise<number> {
  const r = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  const depth = Number(r.Attributes?.ApproximateNumberOfMessages ?? 0);
  recordDlqDepth(depth);
  return depth;
}
