/**
 * Replays the local export DLQ: `npx tsx local/dlq-replay.ts` (LABELSYNC_DATA_DIR as for npm start).
 * Every dead-lettered batch is delivered again to the export handler, oldest first; delivered
 * batches leave the DLQ, batches that fail again stay (see replayDlq in dlq.ts).
 * While `npm start` runs on the same data dir its DynamoDB Local is used; otherwise this starts
 * DynamoDB Local on the data dir for the duration of the replay.
 */
import { join, resolve } from 'node:path';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { resetEnvCache } from '../shared/config/env';
import { resetContext } from '../shared/context';
import { resetDocumentClient } from '../shared/db/client';
import { dlqFile, replayDlq, type StreamBatchHandler } from './dlq';
import { startDynamoDbLocal, type RunningDynamoDb } from './emulators/dynamodb';
import { importHandler, invokeLocal } from './lambda-functions';
import { runningRuntime } from './runtime';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dataDir = resolve(process.env.LABELSYNC_DATA_DIR || '.labelsync');
const region = process.env.AWS_REGION || 'us-east-1';

let owned: RunningDynamoDb | undefined;
try {
  const running = await runningRuntime(dataDir);
  let endpoint: string;
  let table: string;
  if (running) {
    endpoint = running.dynamodbEndpoint;
    table = running.tableName;
    console.error(`using the running labelsync (pid ${running.pid}) at ${running.url}`);
  } else {
    owned = await startDynamoDbLocal({ dbPath: join(dataDir, 'dynamodb'), maxHeap: '1g' });
    endpoint = owned.endpoint;
    table = process.env.LABELSYNC_TABLE || 'labelsync';
  }
  Object.assign(process.env, { LABELSYNC_TABLE: table, LABELSYNC_DYNAMODB_ENDPOINT: endpoint, LABELSYNC_DATA_DIR: dataDir, AWS_REGION: region });
  resetEnvCache();
  resetDocumentClient();
  resetContext();
  const handler: StreamBatchHandler = async (event: DynamoDBStreamEvent) =>
    (await invokeLocal('exportStream', await importHandler('exportStream'), event, { region })) as Awaited<ReturnType<StreamBatchHandler>>;
  const r = await replayDlq(dlqFile(dataDir), handler);
  console.log(`replayed ${r.replayed} batch(es) (${r.records} record(s)); ${r.failed} failed again and stay in ${dlqFile(dataDir)}`);
  process.exitCode = r.failed ? 1 : 0;
} catch (e) {
  console.error(`replay failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 2;
} finally {
  await owned?.stop();
}
// Keep-alive sockets of the SDK clients would hold the process open.
process.exit(process.exitCode ?? 0);
