/**
 * The local dead-letter queue of the export stream: where the SQS on-failure destination of the
 * event source mapping is in AWS. An append-only JSONL file under the data dir; each line is one
 * failed batch with the batch information SQS would get (stream, shard, sequence range) plus the
 * records themselves, so `replayDlq` can deliver them to the export handler again.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';

/** The DLQ file inside a data dir. */
export const dlqFile = (dataDir: string): string => join(dataDir, 'export-dlq.jsonl');

export interface DlqEntry {
  id: string;
  /** ISO time the batch was given up. */
  failedAt: string;
  /** Why: `RetryAttemptsExhausted`, `RecordAgeExceeded`, or the last error. */
  condition: string;
  /** Last error message (handler errors are secret-free by contract). */
  error?: string;
  attempts: number;
  streamArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  batchSize: number;
  records: DynamoDBRecord[];
}

/** Appends failed batches; safe to share within a process (appends are single writes). */
export class LocalDlq {
  constructor(readonly file: string) {}

  async append(entry: Omit<DlqEntry, 'id' | 'failedAt'>): Promise<DlqEntry> {
    const full: DlqEntry = { id: randomUUID(), failedAt: new Date().toISOString(), ...entry };
    await mkdir(dirname(this.file), { recursive: true });
    // One write call per line: concurrent appenders (in O_APPEND mode) never interleave a line.
    await appendFile(this.file, JSON.stringify(full) + '\n', 'utf8');
    return full;
  }

  /** Every entry, oldest first (streamed from the file). */
  async *entries(): AsyncGenerator<DlqEntry> {
    yield* readEntries(this.file);
  }
}

async function* readEntries(file: string): AsyncGenerator<DlqEntry> {
  try {
    await stat(file);
  } catch {
    return;
  }
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      yield JSON.parse(line) as DlqEntry;
    } catch {
      // A torn last line (crash mid-write) is skipped, not fatal.
    }
  }
}

/** Result of delivering one batch: what the export handler returns. */
export type StreamBatchHandler = (event: DynamoDBStreamEvent) => Promise<{ batchItemFailures?: { itemIdentifier?: string }[] } | void | undefined>;

export interface ReplayResult {
  /** Entries whose records were all delivered (removed from the DLQ). */
  replayed: number;
  /** Entries that failed again (kept, with only their undelivered records). */
  failed: number;
  records: number;
}

/**
 * Re-delivers every DLQ entry to `handler`, oldest first, one entry per invocation (the original
 * batch). Delivered entries leave the DLQ; an entry that fails again stays, trimmed to the records
 * from its first reported failure on. The file is moved aside first so that batches the running
 * poller dead-letters meanwhile are appended to a fresh file and never lost.
 */
export async function replayDlq(file: string, handler: StreamBatchHandler): Promise<ReplayResult> {
  const working = `${file}.replaying-${Date.now()}-${process.pid}`;
  try {
    await rename(file, working);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // Files left by a replay that crashed midway are replayed too (oldest first).
  const prefix = `${basename(file)}.replaying-`;
  const files = (await readdir(dirname(file)).catch(() => [] as string[]))
    .filter((f) => f.startsWith(prefix))
    .sort((a, b) => Number(a.slice(prefix.length).split('-')[0]) - Number(b.slice(prefix.length).split('-')[0]))
    .map((f) => join(dirname(file), f));
  const result: ReplayResult = { replayed: 0, failed: 0, records: 0 };
  for (const f of files) {
    await replayFile(f, file, handler, result);
    await rm(f, { force: true });
  }
  return result;
}

async function replayFile(working: string, file: string, handler: StreamBatchHandler, result: ReplayResult): Promise<void> {
  const dlq = new LocalDlq(file);
  for await (const entry of readEntries(working)) {
    let remaining: DynamoDBRecord[] = [];
    let error: string | undefined;
    try {
      const res = await handler({ Records: entry.records });
      const failures = res?.batchItemFailures ?? [];
      if (failures.length) {
        const seqs = entry.records.map((r) => r.dynamodb?.SequenceNumber);
        const idx = failures.map((f) => seqs.indexOf(f.itemIdentifier ?? undefined)).filter((i) => i >= 0);
        // An identifier that names no record fails the whole batch, as the event source mapping does.
        const first = idx.length === failures.length ? Math.min(...idx) : 0;
        remaining = entry.records.slice(first);
        error = 'partial batch failure';
      }
    } catch (e) {
      remaining = entry.records;
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    result.records += entry.records.length - remaining.length;
    if (!remaining.length) {
      result.replayed++;
      continue;
    }
    result.failed++;
    const { id: _id, failedAt: _failedAt, ...rest } = entry;
    await dlq.append({
      ...rest,
      condition: 'ReplayFailed',
      error,
      attempts: entry.attempts + 1,
      startSequenceNumber: remaining[0].dynamodb?.SequenceNumber ?? entry.startSequenceNumber,
      batchSize: remaining.length,
      records: remaining,
    });
  }
}
