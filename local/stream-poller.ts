/**
 * The local event source mapping of the export pipeline: polls the table's stream on DynamoDB Local
 * and delivers annotation changes to the export handler with the mapping's semantics
 * (lib/constructs/export-pipeline.ts): the same filter (NewImage.kind or OldImage.kind =
 * "annotation"), batches of up to 100 records, partial batch failures (`batchItemFailures`: retry
 * from the first failed record), bisection of a batch whose invocation throws, at most 5 retries
 * with backoff, records older than 6 h given up, and whatever still fails appended to the local DLQ.
 *
 * The numbers come from shared/export/stream-settings.ts, the same module the CDK construct reads.
 * Difference from AWS, on purpose: one batch at a time per shard (the mapping's
 * parallelizationFactor only adds throughput; ordering per item is kept either way).
 * Progress is checkpointed under the data dir, so a restart resumes after the last delivered record.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as StreamRecord,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ITEM_KINDS } from '../shared/db/schema';
import { EXPORT_STREAM_SETTINGS } from '../shared/export/stream-settings';
import { LocalDlq, type DlqEntry, type StreamBatchHandler } from './dlq';

export type { StreamBatchHandler } from './dlq';

/** The mapping's numbers (shared/export/stream-settings.ts, also synthesized by lib/constructs/export-pipeline.ts). */
export const EXPORT_MAPPING = {
  batchSize: EXPORT_STREAM_SETTINGS.batchSize,
  batchingWindowMs: EXPORT_STREAM_SETTINGS.batchingWindowSeconds * 1000,
  retryAttempts: EXPORT_STREAM_SETTINGS.retryAttempts,
  maxRecordAgeSeconds: EXPORT_STREAM_SETTINGS.maxRecordAgeSeconds,
  bisectOnError: EXPORT_STREAM_SETTINGS.bisectOnError,
} as const;

export interface StreamPollerOptions {
  endpoint: string;
  region: string;
  tableName: string;
  /** Receives each batch; production passes the export function (see runtime.ts). */
  handler: StreamBatchHandler;
  dlq: LocalDlq;
  /** Checkpoint file; without one every start begins at `startingPosition`. */
  checkpointFile?: string;
  /** Where shards without a checkpoint start. @default 'TRIM_HORIZON' */
  startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  batchSize?: number;
  batchingWindowMs?: number;
  retryAttempts?: number;
  /** First retry delay; doubles per attempt up to 5 s. @default 200 */
  retryBaseMs?: number;
  maxRecordAgeSeconds?: number;
  /** Split a batch whose invocation throws. @default true */
  bisectOnError?: boolean;
  /** Pause between GetRecords calls on an idle shard. @default 250 */
  idlePollMs?: number;
  /** Records the mapping's filter lets through. @default kind = annotation (new or old image) */
  filter?: (record: DynamoDBRecord) => boolean;
  /**
   * Called with every dead-lettered batch once it is in the DLQ file: the SQS on-failure
   * destination in AWS triggers the replay function the same way (errors are logged, the file keeps the batch).
   */
  onDeadLetter?: (entry: DlqEntry) => Promise<void>;
  log?: (message: string) => void;
}

interface Checkpoint {
  streamArn: string;
  /** shardId → last sequence number handled, or 'CLOSED' once the shard is finished. */
  shards: Record<string, string>;
}

/** The CDK mapping's filter: NewImage.kind or OldImage.kind equals "annotation". */
export function isAnnotationRecord(r: DynamoDBRecord): boolean {
  return r.dynamodb?.NewImage?.kind?.S === ITEM_KINDS.annotation || r.dynamodb?.OldImage?.kind?.S === ITEM_KINDS.annotation;
}

function toLambdaValue(v: Record<string, unknown>): LambdaAttributeValue {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined || k === '$unknown') continue;
    if (k === 'B') out.B = Buffer.from(val as Uint8Array).toString('base64');
    else if (k === 'BS') out.BS = (val as Uint8Array[]).map((b) => Buffer.from(b).toString('base64'));
    else if (k === 'M') out.M = toLambdaImage(val as unknown as Record<string, Record<string, unknown>>);
    else if (k === 'L') out.L = (val as Record<string, unknown>[]).map(toLambdaValue);
    else out[k] = val;
  }
  return out as LambdaAttributeValue;
}

function toLambdaImage(img: Record<string, Record<string, unknown>> | undefined): Record<string, LambdaAttributeValue> | undefined {
  if (!img) return undefined;
  const out: Record<string, LambdaAttributeValue> = {};
  for (const [k, v] of Object.entries(img)) out[k] = toLambdaValue(v);
  return out;
}

/** A stream record as the SDK returns it → the record of a Lambda DynamoDB stream event. */
export function toLambdaRecord(r: StreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  const created = d.ApproximateCreationDateTime;
  return {
    eventID: r.eventID,
    eventName: r.eventName as DynamoDBRecord['eventName'],
    eventVersion: r.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: r.awsRegion ?? region,
    eventSourceARN: streamArn,
    ...(r.userIdentity ? { userIdentity: { type: r.userIdentity.Type, principalId: r.userIdentity.PrincipalId } } : {}),
    dynamodb: {
      ...(created ? { ApproximateCreationDateTime: Math.floor(new Date(created).getTime() / 1000) } : {}),
      Keys: toLambdaImage(d.Keys as unknown as Record<string, Record<string, unknown>>),
      ...(d.NewImage ? { NewImage: toLambdaImage(d.NewImage as unknown as Record<string, Record<string, unknown>>) } : {}),
      ...(d.OldImage ? { OldImage: toLambdaImage(d.OldImage as unknown as Record<string, Record<string, unknown>>) } : {}),
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType as NonNullable<DynamoDBRecord['dynamodb']>['StreamViewType'],
    },
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Polls one table's stream and drives the handler. `start()` resolves once every shard has an iterator. */
export class StreamPoller {
  private readonly streams: DynamoDBStreamsClient;
  private readonly ddb: DynamoDBClient;
  private readonly abort = new AbortController();
  private streamArn = '';
  private checkpoint: Checkpoint = { streamArn: '', shards: {} };
  private readonly active = new Map<string, Promise<void>>();
  private discoverTimer?: NodeJS.Timeout;
  private checkpointWrite: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** A batch is being collected (records read, not yet delivered). */
  private pending = false;
  private readonly o: Required<Omit<StreamPollerOptions, 'checkpointFile' | 'log' | 'onDeadLetter'>> & Pick<StreamPollerOptions, 'checkpointFile' | 'onDeadLetter'>;
  private readonly log: (m: string) => void;
  /** Counters for tests and the log. */
  readonly stats = { batches: 0, records: 0, retries: 0, bisections: 0, deadLettered: 0 };

  constructor(opts: StreamPollerOptions) {
    this.o = {
      startingPosition: 'TRIM_HORIZON',
      batchSize: EXPORT_MAPPING.batchSize,
      batchingWindowMs: EXPORT_MAPPING.batchingWindowMs,
      retryAttempts: EXPORT_MAPPING.retryAttempts,
      retryBaseMs: 200,
      maxRecordAgeSeconds: EXPORT_MAPPING.maxRecordAgeSeconds,
      idlePollMs: 250,
      bisectOnError: EXPORT_MAPPING.bisectOnError,
      filter: isAnnotationRecord,
      ...opts,
    };
    this.log = opts.log ?? ((m) => console.error(m));
    const common = {
      region: opts.region,
      endpoint: opts.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 3,
      requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 15_000 }),
    };
    this.streams = new DynamoDBStreamsClient(common);
    this.ddb = new DynamoDBClient(common);
  }

  /** The batching and retry settings in effect. */
  get settings(): Pick<Required<StreamPollerOptions>, 'batchSize' | 'batchingWindowMs' | 'retryAttempts' | 'maxRecordAgeSeconds' | 'bisectOnError'> {
    const { batchSize, batchingWindowMs, retryAttempts, maxRecordAgeSeconds, bisectOnError } = this.o;
    return { batchSize, batchingWindowMs, retryAttempts, maxRecordAgeSeconds, bisectOnError };
  }

  async start(): Promise<void> {
    const table = await this.ddb.send(new DescribeTableCommand({ TableName: this.o.tableName }));
    const arn = table.Table?.LatestStreamArn;
    if (!arn) throw new Error(`table ${this.o.tableName} has no stream`);
    this.streamArn = arn;
    this.checkpoint = await this.loadCheckpoint();
    await this.discover(true);
    this.discoverTimer = setInterval(() => void this.discover(false).catch((e) => this.log(`[stream] discover: ${String(e)}`)), 5_000);
    this.discoverTimer.unref();
  }

  /** Stops polling; waits for the batch being delivered, then saves the checkpoint. */
  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.discoverTimer);
    await Promise.allSettled(this.active.values());
    await this.checkpointWrite;
    this.streams.destroy();
    this.ddb.destroy();
  }

  /** Resolves once nothing is being delivered and every shard has been read to its end (tests). */
  async drained(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let quiet = 0;
    while (Date.now() < until) {
      quiet = this.inFlight === 0 && !this.pending ? quiet + 1 : 0;
      if (quiet >= 3) return;
      await sleep(this.o.idlePollMs);
    }
    throw new Error('stream poller did not drain in time');
  }
  private async loadCheckpoint(): Promise<Checkpoint> {
    if (!this.o.checkpointFile) return { streamArn: this.streamArn, shards: {} };
    try {
      const cp = JSON.parse(await readFile(this.o.checkpointFile, 'utf8')) as Checkpoint;
      // A recreated table has a new stream: old sequence numbers mean nothing there.
      if (cp.streamArn === this.streamArn && cp.shards) return cp;
    } catch {
      // no checkpoint yet
    }
    return { streamArn: this.streamArn, shards: {} };
  }

  private saveCheckpoint(): void {
    const file = this.o.checkpointFile;
    if (!file) return;
    const snapshot = JSON.stringify(this.checkpoint);
    this.checkpointWrite = this.checkpointWrite.then(async () => {
      try {
        await mkdir(dirname(file), { recursive: true });
        const tmp = join(dirname(file), `.stream-checkpoint.${process.pid}.tmp`);
        await writeFile(tmp, snapshot);
        await rename(tmp, file);
      } catch (e) {
        this.log(`[stream] checkpoint not saved: ${String(e)}`);
      }
    });
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const r = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }));
      shards.push(...(r.StreamDescription?.Shards ?? []));
      start = r.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return shards;
  }

  private discovering: Promise<void> = Promise.resolve();
  /** Serialized: the timer and finishing shards both trigger discovery, and a shard must start once. */
  private discover(first: boolean): Promise<void> {
    const next = this.discovering.catch(() => undefined).then(() => this.discoverNow(first));
    this.discovering = next;
    return next;
  }

  /** Starts a reader for every shard that is ready: not finished, not running, parent finished or gone. */
  private async discoverNow(first: boolean): Promise<void> {
    if (this.abort.signal.aborted) return;
    const shards = await this.listShards();
    const known = new Set(shards.map((s) => s.ShardId!));
    const finished = (id: string) => this.checkpoint.shards[id] === 'CLOSED' || !known.has(id);
    for (const s of shards) {
      const id = s.ShardId!;
      if (finished(id) || this.active.has(id)) continue;
      if (s.ParentShardId && !finished(s.ParentShardId)) continue;
      const saved = this.checkpoint.shards[id];
      let iteratorArgs: { ShardIteratorType: 'TRIM_HORIZON' | 'LATEST' | 'AFTER_SEQUENCE_NUMBER'; SequenceNumber?: string };
      if (saved) iteratorArgs = { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: saved };
      else if (first && this.o.startingPosition === 'LATEST') {
        // LATEST applies to shards open at the start; a closed one holds nothing "new".
        if (s.SequenceNumberRange?.EndingSequenceNumber) {
          this.checkpoint.shards[id] = 'CLOSED';
          continue;
        }
        iteratorArgs = { ShardIteratorType: 'LATEST' };
      } else iteratorArgs = { ShardIteratorType: 'TRIM_HORIZON' };
      const iterator = await this.getIterator(id, iteratorArgs);
      const run = this.readShard(id, iterator).catch((e) => this.log(`[stream] shard ${id} stopped: ${String(e)}`));
      this.active.set(id, run);
      void run.finally(() => {
        this.active.delete(id);
        if (!this.abort.signal.aborted) void this.discover(false).catch((e) => this.log(`[stream] discover: ${String(e)}`));
      });
    }
    // Forget shards the stream no longer lists (trimmed after 24 h).
    for (const id of Object.keys(this.checkpoint.shards)) if (!known.has(id)) delete this.checkpoint.shards[id];
  }

  private async getIterator(
    shardId: string,
    args: { ShardIteratorType: 'TRIM_HORIZON' | 'LATEST' | 'AFTER_SEQUENCE_NUMBER'; SequenceNumber?: string },
  ): Promise<string | undefined> {
    try {
      const r = await this.streams.send(new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ...args }));
      return r.ShardIterator;
    } catch (e) {
      if (e instanceof TrimmedDataAccessException && args.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER') {
        this.log(`[stream] shard ${shardId}: checkpoint trimmed away, restarting at TRIM_HORIZON`);
        const r = await this.streams.send(new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
        return r.ShardIterator;
      }
      throw e;
    }
  }

  /** Reads one shard to its end: collect a batch (size or window), deliver it, checkpoint, repeat. */
  private async readShard(shardId: string, firstIterator: string | undefined): Promise<void> {
    let iterator = firstIterator;
    const signal = this.abort.signal;
    let lastSeq: string | undefined = this.checkpoint.shards[shardId];
    while (iterator && !signal.aborted) {
      const batch: DynamoDBRecord[] = [];
      let windowEnd = 0;
      while (iterator && !signal.aborted && batch.length < this.o.batchSize) {
        let resp;
        try {
          // No abortSignal here: the SDK leaves a listener on it per call; GetRecords returns at once anyway.
          resp = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(1000, this.o.batchSize - batch.length) }));
        } catch (e) {
          if (signal.aborted) break;
          if (e instanceof ExpiredIteratorException) {
            iterator = await this.getIterator(shardId, lastSeq ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: lastSeq } : { ShardIteratorType: 'TRIM_HORIZON' });
            continue;
          }
          this.log(`[stream] GetRecords on ${shardId} failed: ${String(e)}; retrying`);
          await sleep(1_000, signal);
          continue;
        }
        iterator = resp.NextShardIterator;
        const records = resp.Records ?? [];
        for (const r of records) {
          const rec = toLambdaRecord(r, this.streamArn, this.o.region);
          lastSeq = rec.dynamodb?.SequenceNumber ?? lastSeq;
          if (this.o.filter(rec)) {
            if (!batch.length) windowEnd = Date.now() + this.o.batchingWindowMs;
            batch.push(rec);
          }
        }
        this.pending = batch.length > 0;
        if (batch.length && Date.now() >= windowEnd) break;
        if (!records.length) await sleep(batch.length ? Math.min(this.o.idlePollMs, Math.max(0, windowEnd - Date.now())) : this.o.idlePollMs, signal);
      }
      if (signal.aborted) break; // undelivered records are read again after the checkpoint on the next start
      if (batch.length) {
        this.inFlight++;
        try {
          await this.deliver(shardId, batch);
        } finally {
          this.inFlight--;
          this.pending = false;
        }
      }
      if (lastSeq && lastSeq !== this.checkpoint.shards[shardId]) {
        this.checkpoint.shards[shardId] = lastSeq;
        this.saveCheckpoint();
      }
    }
    if (!iterator && !signal.aborted) {
      // The shard is closed and fully read: its children may start.
      this.checkpoint.shards[shardId] = 'CLOSED';
      this.saveCheckpoint();
    }
  }

  /**
   * Delivers one batch with the mapping's failure handling. Records before a reported failure are
   * done; a thrown error bisects the batch (halves do not use up retries, as in AWS); a batch or
   * record that keeps failing is retried at most `retryAttempts` times, then dead-lettered.
   */
  private async deliver(shardId: string, records: DynamoDBRecord[]): Promise<void> {
    const work: { records: DynamoDBRecord[]; attempts: number }[] = [{ records, attempts: 0 }];
    while (work.length) {
      const item = work.shift()!;
      const tooOld = this.oldRecords(item.records);
      if (tooOld) {
        await this.deadLetter(shardId, item.records.slice(0, tooOld), 'RecordAgeExceeded', item.attempts, 'record older than the maximum record age');
        if (tooOld < item.records.length) work.unshift({ records: item.records.slice(tooOld), attempts: item.attempts });
        continue;
      }
      this.stats.batches++;
      let failedFrom: number | undefined;
      let thrown: string | undefined;
      try {
        const res = await this.o.handler({ Records: item.records } satisfies DynamoDBStreamEvent);
        const failures = res?.batchItemFailures ?? [];
        if (failures.length) {
          const seqs = item.records.map((r) => r.dynamodb?.SequenceNumber);
          const idx = failures.map((f) => (f.itemIdentifier ? seqs.indexOf(f.itemIdentifier) : -1));
          // A missing or unknown identifier makes the whole batch a failure (as the mapping does).
          failedFrom = idx.some((i) => i < 0) ? 0 : Math.min(...idx);
        }
      } catch (e) {
        thrown = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      }
      if (failedFrom === undefined && thrown === undefined) {
        this.stats.records += item.records.length;
        continue;
      }
      if (thrown !== undefined && this.o.bisectOnError && item.records.length > 1) {
        this.stats.bisections++;
        const mid = Math.ceil(item.records.length / 2);
        work.unshift({ records: item.records.slice(0, mid), attempts: item.attempts }, { records: item.records.slice(mid), attempts: item.attempts });
        continue;
      }
      const from = failedFrom ?? 0;
      this.stats.records += from;
      const rest = item.records.slice(from);
      if (item.attempts >= this.o.retryAttempts) {
        await this.deadLetter(shardId, rest, 'RetryAttemptsExhausted', item.attempts, thrown ?? 'partial batch failure');
        continue;
      }
      this.stats.retries++;
      await sleep(Math.min(5_000, this.o.retryBaseMs * 2 ** item.attempts), this.abort.signal);
      if (this.abort.signal.aborted) return;
      work.unshift({ records: rest, attempts: item.attempts + 1 });
    }
  }

  /** How many leading records are older than the maximum record age. */
  private oldRecords(records: DynamoDBRecord[]): number {
    const limit = Date.now() / 1000 - this.o.maxRecordAgeSeconds;
    let n = 0;
    while (n < records.length && (records[n].dynamodb?.ApproximateCreationDateTime ?? Infinity) < limit) n++;
    return n;
  }

  private async deadLetter(shardId: string, records: DynamoDBRecord[], condition: string, attempts: number, error: string): Promise<void> {
    this.log(`[stream] ${records.length} record(s) of ${shardId} sent to the DLQ (${condition}): ${error.slice(0, 300)}`);
    const entry = await this.o.dlq.append({
      condition,
      error,
      attempts,
      streamArn: this.streamArn,
      shardId,
      startSequenceNumber: records[0].dynamodb?.SequenceNumber ?? '',
      endSequenceNumber: records[records.length - 1].dynamodb?.SequenceNumber ?? '',
      batchSize: records.length,
      records,
    });
    this.stats.deadLettered += records.length; // after the write: a reader of the DLQ finds them
    await this.o.onDeadLetter?.(entry).catch((e) => this.log(`[stream] dead-letter hook failed: ${String(e)}`));
  }
}
