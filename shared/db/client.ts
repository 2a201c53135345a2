/**
 * DynamoDB document client factory (createApp builds one per app). Timeouts and bounded retries
 * are set here once.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { instrumented } from '../aws/instrument';
import { installStrictMiddleware, type StrictDbOptions } from './strict-middleware';

/**
 * Attempts per DynamoDB call in the SDK (throttling and transient errors are retried with the
 * SDK's jittered exponential backoff); the repositories' own bounded retries sit on top of it.
 */
export const SDK_MAX_ATTEMPTS = 5;

/**
 * A document client on `endpoint` (DynamoDB Local) or the default AWS endpoint of `region`;
 * `strict` adds the AWS-strict middleware (transaction conflicts, throttling: strict-middleware.ts).
 * `retryStrategy` replaces the SDK's (tests shorten its delays; the service never sets it).
 */
export function createDocumentClient(opts: {
  endpoint?: string;
  region: string;
  strict?: StrictDbOptions;
  retryStrategy?: DynamoDBClientConfig['retryStrategy'];
}): DynamoDBDocumentClient {
  // The document client shares the base client's middleware stack: one recorder sees every command.
  const client = instrumented(new DynamoDBClient({
    region: opts.region,
    endpoint: opts.endpoint,
    maxAttempts: SDK_MAX_ATTEMPTS,
    ...(opts.retryStrategy ? { retryStrategy: opts.retryStrategy } : {}),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 15_000 }),
    // DynamoDB Local accepts any credentials; AWS uses the default chain.
    ...(opts.endpoint ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  }), 'dynamodb');
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
  if (opts.strict) installStrictMiddleware(doc, opts.strict);
  return doc;
}

/** A DynamoDB Streams client with the same endpoint, timeouts and retries (export DLQ replay). */
export function createStreamsClient(opts: { endpoint?: string; region: string }): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient({
    region: opts.region,
    endpoint: opts.endpoint,
    maxAttempts: 5,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 15_000 }),
    ...(opts.endpoint ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
}
