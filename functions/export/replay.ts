/**
 * Export failure replay, two triggers:
 * - the export DLQ (SQS event source): each message describes a batch the stream mapping gave up
 *   on (crash, timeout, retries exhausted) by shard and sequence range only; its annotations are
 *   read back from the stream and recorded as failures (shared/db/repo-export-failures.ts);
 * - the schedule (EventBridge, the manifest's `everyMinutes`): every recorded failure is
 *   re-exported from the table; delivered ones are forgotten, the rest wait for the next run.
 *   Invoked by hand with `{"detail": {"projectIds": [<id>, …]}}` it replays those projects only.
 */
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createStreamsClient } from '../../shared/db/client';
import { getLogger } from '../../shared/logging';
import { measureDlqDepth, recordDlqMessages, reexportRecordedFailures, type SweepResult } from '../../shared/export/replay';
import { lambdaHandler } from '../../shared/lambda-handler';
import { processApp } from '../../shared/process-app';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

/** One streams client per endpoint (the local runtime and tests install apps of their own). */
const streamsClients = new Map<string, DynamoDBStreamsClient>();
function streamsOf(env: { dynamodbEndpoint?: string; region: string }): DynamoDBStreamsClient {
  const key = `${env.dynamodbEndpoint ?? ''}|${env.region}`;
  let c = streamsClients.get(key);
  if (!c) streamsClients.set(key, (c = createStreamsClient({ endpoint: env.dynamodbEndpoint, region: env.region })));
  return c;
}

/** The DLQ's SQS client, loaded on first use (the scheduled run measures the queue's depth). */
let sqsClient: Promise<import('@aws-sdk/client-sqs').SQSClient> | undefined;
async function sqsOf(region: string): Promise<import('@aws-sdk/client-sqs').SQSClient> {
  sqsClient ??= Promise.all([import('@aws-sdk/client-sqs'), import('@smithy/node-http-handler')]).then(
    ([{ SQSClient }, { NodeHttpHandler }]) =>
      new SQSClient({ region, maxAttempts: 3, requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 5_000 }) }),
  );
  return sqsClient;
}

/** Time kept back from the Lambda timeout: the page in flight must finish. */
const SWEEP_MARGIN_MS = 30_000;

const isSqsEvent = (e: unknown): e is SQSEvent => Array.isArray((e as SQSEvent)?.Records) && (e as SQSEvent).Records[0]?.eventSource === 'aws:sqs';

export const handler = lambdaHandler('export', processApp, async (event: SQSEvent | Record<string, unknown>, context: Context): Promise<SQSBatchResponse | SweepResult> => {
  const log = getLogger('export');
  const a = processApp();
  if (isSqsEvent(event)) {
    const retry = await recordDlqMessages(a.db, streamsOf(a.env), event.Records.map((r) => ({ messageId: r.messageId, body: r.body })));
    return { batchItemFailures: retry.map((itemIdentifier) => ({ itemIdentifier })) };
  }
  const remaining = context?.getRemainingTimeInMillis?.();
  const deadline = remaining !== undefined ? Date.now() + Math.max(0, remaining - SWEEP_MARGIN_MS) : undefined;
  const projectIds = (event as { detail?: { projectIds?: unknown } }).detail?.projectIds;
  const only = Array.isArray(projectIds) ? (f: { projectId: number }) => projectIds.includes(f.projectId) : undefined;
  // AWS only (CDK sets the URL); a failed measurement must not stop the replay.
  if (a.env.exportDlqUrl) await measureDlqDepth(await sqsOf(a.env.region), a.env.exportDlqUrl).catch((e) => log.warn('export DLQ depth not measured', { error: String(e) }));
  const r = await reexportRecordedFailures(a.exportDeps(), { deadline, only });
  if (r.failed) log.warn('export replay: failures remain', { ...r });
  else if (r.reexported) log.info('export replay: recorded failures delivered', { ...r });
  return r;
});
