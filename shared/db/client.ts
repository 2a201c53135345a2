/**
 * DynamoDB document client factory (createApp builds one per app). Timeouts and bounded retries
 * are set here once.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { traced } from '../tracing';

/** A document client on `endpoint` (DynamoDB Local) or the default AWS endpoint of `region`. */
export function createDocumentClient(opts: { endpoint?: string; region: string }): DynamoDBDocumentClient {
  const client = traced(new DynamoDBClient({
    region: opts.region,
    endpoint: opts.endpoint,
    maxAttempts: 5,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 15_000 }),
    // DynamoDB Local accepts any credentials; AWS uses the default chain.
    ...(opts.endpoint ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  }));
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}
