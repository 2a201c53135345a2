/**
 * DynamoDB document client factory (createApp builds one per app). Timeouts and bounded retries
 * are set here once.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { recordCalls } from '../aws/call-recorder';

/** A document client on `endpoint` (DynamoDB Local) or the default AWS endpoint of `region`. */
export function createDocumentClient(opts: { endpoint?: string; region: string }): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: opts.region,
    endpoint: opts.endpoint,
    maxAttempts: 5,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 15_000 }),
    // DynamoDB Local accepts any credentials; AWS uses the default chain.
    ...(opts.endpoint ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  // The document client shares the base client's middleware stack: one recorder sees every command.
  return DynamoDBDocumentClient.from(recordCalls(client, 'dynamodb'), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}
