/**
 * The export replay of `npm start`, triggered as in AWS (lib/constructs/export-pipeline.ts):
 * - a batch the stream poller dead-letters is handed to the replay function as the SQS event its
 *   on-failure destination would produce (shard and sequence range only: the function reads the
 *   records back from DynamoDB Local's stream and records their annotations as failures);
 * - a timer every EXPORT_REPLAY_EVERY_MINUTES invokes it with a scheduled event, which re-exports
 *   the recorded failures.
 */
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent, SQSEvent } from 'aws-lambda';
import { EXPORT_REPLAY_EVERY_MINUTES } from '../shared/export/stream-settings';
import type { DlqEntry } from './dlq';

export interface LocalExportReplayOptions {
  /** Invokes the exportReplay function (as Lambda would). */
  invoke: (event: SQSEvent | ScheduledEvent) => Promise<unknown>;
  region: string;
  /** @default EXPORT_REPLAY_EVERY_MINUTES */
  everyMs?: number;
  log: (message: string) => void;
}

/** The body Lambda's SQS on-failure destination receives for a DynamoDB stream batch. */
export function onFailureBody(entry: Pick<DlqEntry, 'condition' | 'attempts' | 'streamArn' | 'shardId' | 'startSequenceNumber' | 'endSequenceNumber' | 'batchSize' | 'failedAt'>): string {
  return JSON.stringify({
    requestContext: { requestId: randomUUID(), functionArn: 'arn:aws:lambda:local:000000000000:function:exportStream', condition: entry.condition, approximateInvokeCount: entry.attempts + 1 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: entry.failedAt,
    DDBStreamBatchInfo: {
      shardId: entry.shardId,
      startSequenceNumber: entry.startSequenceNumber,
      endSequenceNumber: entry.endSequenceNumber,
      batchSize: entry.batchSize,
      streamArn: entry.streamArn,
    },
  });
}

/** The SQS event of one dead-lettered batch. */
export function dlqEvent(entry: DlqEntry, region: string): SQSEvent {
  return {
    Records: [
      {
        messageId: entry.id,
        receiptHandle: entry.id,
        body: onFailureBody(entry),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.parse(entry.failedAt)), SenderId: 'local', ApproximateFirstReceiveTimestamp: String(Date.now()) },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${region}:000000000000:export-dlq`,
        awsRegion: region,
      },
    ],
  };
}

/** The event of an EventBridge schedule. */
export function scheduledEvent(region: string): ScheduledEvent {
  return {
    version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000',
    time: new Date().toISOString(), region, resources: ['arn:aws:events:local:000000000000:rule/export-replay'], detail: {},
  };
}

/** The DLQ consumer and the replay schedule of the local runtime. */
export class LocalExportReplay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly o: LocalExportReplayOptions) {}

  start(): this {
    this.timer = setInterval(() => void this.runScheduled(), this.o.everyMs ?? EXPORT_REPLAY_EVERY_MINUTES * 60_000);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Hands a dead-lettered batch to the replay function (the poller's `onDeadLetter`). */
  async onDeadLetter(entry: DlqEntry): Promise<void> {
    await this.o.invoke(dlqEvent(entry, this.o.region));
  }

  /** One scheduled run; a run still going is not started twice. */
  runScheduled(): Promise<void> {
    this.running ??= this.o
      .invoke(scheduledEvent(this.o.region))
      .then(
        () => undefined,
        (e) => this.o.log(`[export] scheduled replay failed: ${e instanceof Error ? e.message : String(e)}`),
      )
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
