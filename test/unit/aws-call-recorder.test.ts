/**
 * The call recorder against DynamoDB Local: each command is recorded as IAM authorizes it (a
 * transaction per item action, a batch per table with every partition key), attributed to the
 * function it ran in, and nothing is added to a client built while no recorder is installed.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { BatchWriteCommand, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { installCallRecorder, runAsFunction, type AwsCall } from '../../shared/aws/call-recorder';
import { createDocumentClient } from '../../shared/db/client';

const RUN = `rec-${Date.now().toString(36)}`;
const table = () => inject('tableName');
const ddb = () => inject('emulators').dynamodb;
const tableArn = () => `arn:aws:dynamodb:${ddb().region}:000000000000:table/${table()}`;

afterEach(() => installCallRecorder(undefined));

function recording(): { calls: AwsCall[]; doc: ReturnType<typeof createDocumentClient> } {
  const calls: AwsCall[] = [];
  installCallRecorder({ accountId: '000000000000', record: (c) => calls.push(c) });
  return { calls, doc: createDocumentClient({ endpoint: ddb().endpoint, region: ddb().region }) };
}

describe('call recorder', () => {
  it('records a transaction as one authorization per item, with its partition key, in the calling function', async () => {
    const { calls, doc } = recording();
    await runAsFunction('syncChunk', () =>
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: table(), Item: { pk: `JOB#${RUN}`, sk: 'JOB', kind: 'test' } } },
            { Update: { TableName: table(), Key: { pk: `STORAGE#${RUN}`, sk: 'STORAGE' }, UpdateExpression: 'SET kind = :k', ExpressionAttributeValues: { ':k': 'test' } } },
          ],
        }),
      ),
    );
    expect(calls).toEqual([
      { fn: 'syncChunk', identity: 'role', action: 'dynamodb:PutItem', resource: tableArn(), context: { 'dynamodb:LeadingKeys': [`JOB#${RUN}`] } },
      { fn: 'syncChunk', identity: 'role', action: 'dynamodb:UpdateItem', resource: tableArn(), context: { 'dynamodb:LeadingKeys': [`STORAGE#${RUN}`] } },
    ]);
  });

  it('records a batch write once per table with every partition key; a call outside any function is "unknown"', async () => {
    const { calls, doc } = recording();
    await doc.send(
      new BatchWriteCommand({
        RequestItems: {
          [table()]: [
            { PutRequest: { Item: { pk: `TASK#${RUN}`, sk: 'TASK', kind: 'test' } } },
            { DeleteRequest: { Key: { pk: `JOB#${RUN}`, sk: 'JOB' } } },
          ],
        },
      }),
    );
    expect(calls).toEqual([
      { fn: 'unknown', identity: 'role', action: 'dynamodb:BatchWriteItem', resource: tableArn(), context: { 'dynamodb:LeadingKeys': [`TASK#${RUN}`, `JOB#${RUN}`] } },
    ]);
  });

  it('adds nothing to a client built with no recorder installed', async () => {
    const doc = createDocumentClient({ endpoint: ddb().endpoint, region: ddb().region });
    const calls: AwsCall[] = [];
    installCallRecorder({ accountId: '000000000000', record: (c) => calls.push(c) });
    await doc.send(new GetCommand({ TableName: table(), Key: { pk: `TASK#${RUN}`, sk: 'TASK' } }));
    expect(calls).toEqual([]);
  });
});
