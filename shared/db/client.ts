/**
 * DynamoDB document client, one per process. Timeouts and bounded retries are set here once.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { env } from '../config/env';

let doc: DynamoDBDocumentClient | undefined;

export function createDocumentClient(opts: { endpoint?: string; region: string }): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: opts.region,
    endpoint: opts.endpoint,
    maxAttempts: 5,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 15_000 }),
    // DynamoDB Local accepts any credentials; AWS uses the default chain.
    ...(opts.endpoint ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}

/** The process-wide client for the configured table. */
export function documentClient(): DynamoDBDocumentClient {
  if (!doc) {
    const e = env();
    doc = createDocumentClient({ endpoint: e.dynamodbEndpoint, region: e.region });
  }
  return doc;
}

/** For tests and the local runtime after they change the environment. */
export function resetDocumentClient(): void {
  doc = undefined;
}
