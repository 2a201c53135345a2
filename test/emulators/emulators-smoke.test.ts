import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { Redis } from 'ioredis';
import { describe, expect, inject, test } from 'vitest';
import { azuriteTlsOptions, fakeAzureAdCredential } from './azure-helpers';
import { createEmulatorS3Client } from './s3-client';

const emulators = inject('emulators');
const tableName = inject('tableName');
const suffix = () => crypto.randomBytes(4).toString('hex');

describe('S3 emulator (s3rver)', () => {
  test('put/list/get work and presigned GETs are checked: valid → bytes, tampered → 403', async () => {
    const s3 = createEmulatorS3Client(emulators.s3);
    const Bucket = `smoke-${suffix()}`;
    await s3.send(new CreateBucketCommand({ Bucket }));
    for (let i = 0; i < 3; i++) {
      await s3.send(new PutObjectCommand({ Bucket, Key: `k/${i}.txt`, Body: `body ${i}` }));
    }
    // Paginated listing needs the legacy OpenSSL provider in s3rver; this catches a missing flag.
    const page1 = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 2 }));
    expect(page1.KeyCount).toBe(2);
    const page2 = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: page1.NextContinuationToken }));
    expect(page2.Contents?.map((o) => o.Key)).toEqual(['k/2.txt']);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'k/1.txt' }));
    expect(await got.Body!.transformToString()).toBe('body 1');

    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'k/0.txt' }), { expiresIn: 300 });
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('body 0');
    const tampered = new URL(url);
    tampered.pathname = `/${Bucket}/k/1.txt`;
    const refused = await fetch(tampered);
    expect(refused.status).toBe(403);
    await refused.arrayBuffer();

    for (let i = 0; i < 3; i++) await s3.send(new DeleteObjectCommand({ Bucket, Key: `k/${i}.txt` }));
    await s3.send(new DeleteBucketCommand({ Bucket }));
    s3.destroy();
  });
});

describe('DynamoDB Local', () => {
  test('the shared table has both GSIs and a NEW_AND_OLD_IMAGES stream that carries a put item', async () => {
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const ddb = new DynamoDBClient({ ...emulators.dynamodb, credentials });
    const streams = new DynamoDBStreamsClient({ ...emulators.dynamodb, credentials });
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual(['gsi1', 'gsi2']);
    expect(Table?.GlobalSecondaryIndexes?.every((g) => g.Projection?.ProjectionType === 'ALL')).toBe(true);
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });

    const pk = `SMOKE#${suffix()}`;
    await ddb.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: pk }, sk: { S: 'A' }, kind: { S: 'smoke' } } }));
    const { Item } = await ddb.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk }, sk: { S: 'A' } } }));
    expect(Item?.kind).toEqual({ S: 'smoke' });

    // No event-source mapping locally: read the stream like the local poller does.
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: Table!.LatestStreamArn! }));
    const keys: string[] = [];
    for (const shard of StreamDescription?.Shards ?? []) {
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({ StreamArn: Table!.LatestStreamArn!, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      let it = ShardIterator;
      // The whole suite shares this table: the stream may hold far more than a few pages before our item.
      for (let i = 0; it && i < 1_000 && !keys.includes(pk); i++) {
        const r = await streams.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1000 }));
        for (const rec of r.Records ?? []) keys.push(String(rec.dynamodb?.Keys?.pk?.S));
        if (!r.Records?.length) break;
        it = r.NextShardIterator;
      }
    }
    expect(keys).toContain(pk);
    ddb.destroy();
    streams.destroy();
  });
});

describe('Azurite', () => {
  test('shared-key upload/download work, a SAS URL is fetchable and a tampered SAS is 403', async () => {
    const { blobEndpoint, accountName, accountKey } = emulators.azure;
    const cred = new StorageSharedKeyCredential(accountName, accountKey);
    const service = new BlobServiceClient(blobEndpoint, cred);
    const container = service.getContainerClient(`smoke-${suffix()}`);
    await container.create();
    const blob = container.getBlockBlobClient('dir/hello.txt');
    await blob.upload('hello azure', 11);
    expect((await blob.downloadToBuffer()).toString()).toBe('hello azure');

    const sas = generateBlobSASQueryParameters(
      {
        containerName: container.containerName,
        blobName: 'dir/hello.txt',
        permissions: BlobSASPermissions.parse('r'),
        expiresOn: new Date(Date.now() + 5 * 60_000),
      },
      cred,
    ).toString();
    const ok = await fetch(`${blob.url}?${sas}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('hello azure');
    const bad = new URLSearchParams(sas);
    bad.set('se', new Date(Date.now() + 60 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'));
    const refused = await fetch(`${blob.url}?${bad}`);
    expect(refused.status).toBe(403);
    await refused.arrayBuffer();
    await container.delete();
  });

  test('OAuth/HTTPS mode accepts a bearer token from a service-principal-like credential', async () => {
    // Azure AD itself is unreachable offline: fakeAzureAdCredential stands in for @azure/identity.
    const { blobEndpoint, caCertPath } = emulators.azureOauth;
    expect(blobEndpoint.startsWith('https://')).toBe(true);
    const credential = fakeAzureAdCredential();
    const service = new BlobServiceClient(blobEndpoint, credential, azuriteTlsOptions(caCertPath));
    const container = service.getContainerClient(`oauth-${suffix()}`);
    await container.create();
    await container.getBlockBlobClient('a.txt').upload('via oauth', 9);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    expect(names).toEqual(['a.txt']);
    expect(credential.issued).toBeGreaterThan(0);
    await container.delete();
  });

  test('test workers trust the OAuth endpoint without client options (NODE_EXTRA_CA_CERTS from the setup)', async () => {
    expect(process.env.NODE_EXTRA_CA_CERTS).toBe(emulators.azureOauth.caCertPath);
    const service = new BlobServiceClient(emulators.azureOauth.blobEndpoint, fakeAzureAdCredential());
    const container = service.getContainerClient(`oauth-env-${suffix()}`);
    await container.create();
    expect(await container.exists()).toBe(true);
    await container.delete();
  });

  test('a process without the test CA refuses the OAuth endpoint certificate', async () => {
    const { NODE_EXTRA_CA_CERTS: _, ...env } = process.env;
    const script = `require('https').get(process.argv[1], (r) => { console.log('status', r.statusCode); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, `${emulators.azureOauth.blobEndpoint}?comp=list`], {
      env: { ...env, NODE_OPTIONS: '' },
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});

describe('Redis', () => {
  test('ioredis can set, get and scan keys', async () => {
    const redis = new Redis({ host: emulators.redis.host, port: emulators.redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const prefix = `smoke:${suffix()}:`;
    await redis.set(`${prefix}a`, '{"x":1}');
    expect(await redis.get(`${prefix}a`)).toBe('{"x":1}');
    const [, keys] = await redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 1000);
    expect(keys).toEqual([`${prefix}a`]);
    await redis.del(`${prefix}a`);
    await redis.quit();
  });
});

describe('STS (moto)', () => {
  // One of the two runs, the other is reported skipped: AssumeRole cannot be checked without moto.
  test.skipIf(Boolean(emulators.sts))('moto absent (AssumeRole skipped): the setup omitted sts because python3 cannot import moto', () => {
    expect(() => execFileSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' })).toThrow();
  });

  test.skipIf(!emulators.sts)('AssumeRole returns temporary credentials (moto)', async () => {
    const sts = new STSClient({
      endpoint: emulators.sts!.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const r = await sts.send(
      new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/labelsync-test', RoleSessionName: 'smoke', ExternalId: 'ext-1' }),
    );
    expect(r.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    expect(r.Credentials?.SessionToken).toBeTruthy();
    expect(r.AssumedRoleUser?.Arn).toContain('labelsync-test/smoke');
    sts.destroy();
  });
});
