/**
 * The SDK clients are instrumented for X-Ray only inside Lambda (AWS_EXECUTION_ENV, set by the
 * Lambda runtime): locally they are returned untouched. No call is sent; only the client's
 * middleware stack is inspected.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it, vi } from 'vitest';

const names = (c: DynamoDBClient) => c.middlewareStack.identify().join(' ');

afterAll(() => {
  vi.unstubAllEnvs();
});

describe('tracing', () => {
  it('leaves clients alone outside Lambda', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', '');
    vi.resetModules();
    const { traced } = await import('../../shared/tracing');
    const client = new DynamoDBClient({ region: 'us-east-1' });
    const before = names(client);
    expect(traced(client)).toBe(client);
    expect(names(client)).toBe(before);
  });

  it('adds the X-Ray middleware to a client in Lambda', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.resetModules();
    const { traced } = await import('../../shared/tracing');
    const client = traced(new DynamoDBClient({ region: 'us-east-1' }));
    expect(names(client)).toMatch(/XRay/i);
  });
});
