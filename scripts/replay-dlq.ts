/**
 * Replays the export DLQ: annotations whose export to a target storage failed for good.
 *
 *   AWS:   npm run replay-dlq -- --queue-url <url>          (default $LABELSYNC_EXPORT_DLQ_URL)
 *          needs LABELSYNC_TABLE, AWS_REGION and credentials allowed to read the table, its stream,
 *          the KMS key of the storage secrets and the queue (see docs/export.md).
 *   local: npm run replay-dlq -- --local [--data-dir .labelsync] [--endpoint http://127.0.0.1:<port>]
 *          while `npm start` runs on the data dir (its DynamoDB Local is found through the data
 *          dir's runtime.json), or with --endpoint after it ran with LABELSYNC_DYNAMODB_PORT=<port>.
 *
 * Both end with a sweep that re-exports, from the table, every annotation the export handler
 * recorded as failed (covers SQS messages whose stream records have expired after 24 h).
 * Exit code 0 when everything was delivered, 1 when something failed again (it stays queued).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createApp } from '../shared/app';
import { processAnnotationRecords } from '../shared/export/process-records';
import { reexportRecordedFailures, replaySqsDlq } from '../shared/export/replay';
import type { StreamRecordLike } from '../shared/export/stream-record';
import { dlqFile, replayDlq } from '../local/dlq';
import { applyLocalDefaults } from '../local/local-defaults';
import { runningRuntime } from '../local/runtime';

function usage(msg?: string): never {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: npm run replay-dlq -- (--queue-url <url> | --local [--data-dir <dir>] [--endpoint <url>] [--table <name>])');
  process.exit(2);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      local: { type: 'boolean' },
      'queue-url': { type: 'string' },
      'data-dir': { type: 'string' },
      endpoint: { type: 'string' },
      table: { type: 'string' },
      'max-messages': { type: 'string' },
    },
  });
  const log = (m: string) => console.error(m);
  if (values.local) {
    const dataDir = resolve(values['data-dir'] ?? process.env.LABELSYNC_DATA_DIR ?? '.labelsync');
    process.env.LABELSYNC_DATA_DIR = dataDir;
    process.env.LABELSYNC_TABLE = values.table ?? process.env.LABELSYNC_TABLE ?? 'labelsync';
    if (values.endpoint) process.env.LABELSYNC_DYNAMODB_ENDPOINT = values.endpoint;
    const running = process.env.LABELSYNC_DYNAMODB_ENDPOINT ? undefined : await runningRuntime(dataDir);
    if (running) {
      log(`using the running labelsync (pid ${running.pid}) at ${running.url}`);
      Object.assign(process.env, { LABELSYNC_DYNAMODB_ENDPOINT: running.dynamodbEndpoint, LABELSYNC_TABLE: values.table ?? running.tableName });
    }
    if (!process.env.LABELSYNC_DYNAMODB_ENDPOINT) usage('--endpoint (or LABELSYNC_DYNAMODB_ENDPOINT) of the DynamoDB Local that `npm start` runs is required when it is not running on the data dir');
    applyLocalDefaults(process.env);
  } else if (values.table) process.env.LABELSYNC_TABLE = values.table;

  const app = createApp(process.env);
  const deps = app.exportDeps();

  if (values.local) {
    const file = dlqFile(process.env.LABELSYNC_DATA_DIR!);
    const r = await replayDlq(file, async (event) => {
      const out = await processAnnotationRecords(deps, event.Records as StreamRecordLike[]);
      return { batchItemFailures: out.failures.map((itemIdentifier) => ({ itemIdentifier })) };
    });
    const sweep = await reexportRecordedFailures(deps);
    log(`local DLQ ${file}: ${r.replayed} batches replayed (${r.records} records), ${r.failed} failed again (kept)`);
    log(`recorded failures: ${sweep.reexported} annotations re-exported, ${sweep.failed} failed again`);
    return r.failed || sweep.failed ? 1 : 0;
  }

  const queueUrl = values['queue-url'] ?? app.env.exportDlqUrl;
  if (!queueUrl) usage('--queue-url (or LABELSYNC_EXPORT_DLQ_URL) is required outside --local');
  const handler = new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 30_000 });
  const region = app.env.region;
  const sqs = new SQSClient({ region, requestHandler: handler, maxAttempts: 5 });
  const streams = new DynamoDBStreamsClient({ region, requestHandler: handler, maxAttempts: 5 });
  try {
    const r = await replaySqsDlq({
      deps,
      sqs,
      streams,
      queueUrl,
      maxMessages: values['max-messages'] ? Number(values['max-messages']) : undefined,
      log,
    });
    log(
      `SQS DLQ: ${r.messages} messages, ${r.replayed} batches replayed from the stream, ${r.expired} expired (covered by the sweep), ` +
        `${r.failed} failed again (left in the queue); recorded failures: ${r.sweep.reexported} re-exported, ${r.sweep.failed} failed again`,
    );
    return r.failed || r.sweep.failed ? 1 : 0;
  } finally {
    sqs.destroy();
    streams.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`replay failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
