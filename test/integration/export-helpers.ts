/**
 * Shared set-up of the export integration tests: a Db on the emulator table, a project with a
 * task, target storages of every type on the emulators (secrets encrypted with a local secret
 * box, as the API stores them), and a reader of the table's real DynamoDB stream.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { Storage } from '@google-cloud/storage';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { inject } from 'vitest';
import { createDocumentClient } from '../../shared/db/client';
import { withParts } from '../../shared/app';
import { installApp, processApp } from '../../shared/process-app';
import type { ProjectItem, StorageItem, TaskItem } from '../../shared/db/items';
import type { Db } from '../../shared/db/repo-common';
import { reserveIds } from '../../shared/db/counters';
import { putProject } from '../../shared/db/repo-projects';
import { putTasks } from '../../shared/db/repo-tasks';
import { putStorage } from '../../shared/db/repo-storages';
import type { SecretBox } from '../../shared/crypto/secret-box';
import { createS3Client } from '../../shared/storage/providers/s3';
import type { StorageConfig, StorageProvider, StorageType } from '../../shared/storage/types';
import type { ExportDeps } from '../../shared/export/deps';
import { exportDepsFromContext } from '../../shared/export/runtime';
import { loadStorageConfig } from '../../shared/api/storages';
import type { StreamRecordLike } from '../../shared/export/stream-record';
import { fakeAzureAdCredential } from '../emulators/azure-helpers';
import { SECRET_FIELDS } from '../../shared/api/storage-schemas';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AnnotationItem } from '../../shared/db/items';
import { createAnnotation } from '../../shared/db/repo-annotations';

export interface ExportEnv {
  db: Db;
  secretBox: SecretBox;
  deps: ExportDeps;
  /** Provider of a stored storage (decrypted config). */
  providerOf(item: StorageItem): Promise<StorageProvider>;
  /** Document root the localfiles targets live under. */
  localRoot: string;
}

const settings = (localRoot: string) => ({
  maxReadBytes: 10 * 1024 * 1024,
  allowedEndpoints: ['127.0.0.1', 'localhost'],
  localFilesDocumentRoot: localRoot,
  connectTimeoutMs: 1500,
  requestTimeoutMs: 10000,
});

/** Builds the environment once per test file. */
export function exportEnv(): ExportEnv {
  const em = inject('emulators');
  const db: Db = { doc: createDocumentClient({ endpoint: em.dynamodb.endpoint, region: em.dynamodb.region }), table: inject('tableName') };
  const dataDir = mkdtempSync(join(tmpdir(), 'labelsync-export-'));
  const localRoot = mkdtempSync(join(tmpdir(), 'labelsync-export-root-'));
  // The export handler uses the process's app: install a copy (same sync starter) on this data
  // dir so it decrypts what this helper encrypts, with the emulators' storage hooks.
  process.env.LABELSYNC_DATA_DIR = dataDir;
  const storageHooks = {
    azureTokenCredential: fakeAzureAdCredential(),
    azureCa: readFileSync(em.azureOauth.caCertPath, 'utf8'),
    azureSasVersion: '2025-11-05',
  };
  // Local-files targets need serving on and a root holding them (a provider is refused otherwise).
  const vars = { LABELSYNC_DATA_DIR: dataDir, LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true', LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: localRoot };
  const app = installApp(withParts(processApp(), { storageHooks }, vars));
  const secretBox = app.secretBox;
  const provider = (config: StorageConfig) => app.getProvider(config, { settings: settings(localRoot) });
  const deps = exportDepsFromContext({ db, getProvider: provider }, (item) => loadStorageConfig(item, secretBox));
  return {
    db,
    secretBox,
    deps,
    localRoot,
    providerOf: async (item) => provider(await loadStorageConfig(item, secretBox)),
  };
}

/** Target configs (type → fields incl. secrets) on the emulators; buckets/containers created. */
export async function targetConfigs(env: ExportEnv, name: string): Promise<Record<string, StorageConfig>> {
  const em = inject('emulators');
  const bucket = `xp-${name}`.toLowerCase().slice(0, 60);
  const s3 = createS3Client({
    type: 's3', bucket, recursive: true, region: em.s3.region, endpoint: em.s3.endpoint,
    credentials: { accessKeyId: em.s3.accessKeyId, secretAccessKey: em.s3.secretAccessKey }, maxReadBytes: 1, connectTimeoutMs: 3000, requestTimeoutMs: 15000,
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    if (!/BucketAlready/.test((e as Error).name)) throw e;
  } finally {
    s3.destroy();
  }
  const gcs = new Storage({ apiEndpoint: em.gcs.apiEndpoint, projectId: em.gcs.projectId, credentials: em.gcsCredentials });
  if (!(await gcs.bucket(bucket).exists())[0]) await gcs.createBucket(bucket);
  const az = new BlobServiceClient(`${em.azure.blobEndpoint}`, new StorageSharedKeyCredential(em.azure.accountName, em.azure.accountKey));
  await az.getContainerClient(bucket).createIfNotExists();
  const { mkdirSync } = await import('node:fs');
  const localPath = join(env.localRoot, name);
  mkdirSync(localPath, { recursive: true });
  const oauth = em.azureOauth;
  const azOauth = new BlobServiceClient(oauth.blobEndpoint, new StorageSharedKeyCredential(oauth.accountName, oauth.accountKey), {
    tlsOptions: { ca: readFileSync(em.azureOauth.caCertPath) },
  } as never);
  await azOauth.getContainerClient(bucket).createIfNotExists();
  return {
    s3: {
      type: 's3', role: 'export', bucket, prefix: 'out/', s3_endpoint: em.s3.endpoint, region_name: em.s3.region,
      aws_access_key_id: em.s3.accessKeyId, aws_secret_access_key: em.s3.secretAccessKey,
    },
    gcs: {
      type: 'gcs', role: 'export', bucket, prefix: 'out', gcs_endpoint: em.gcs.apiEndpoint, google_project_id: em.gcs.projectId,
      google_application_credentials: JSON.stringify(em.gcsCredentials),
    },
    azure: {
      type: 'azure', role: 'export', container: bucket, prefix: 'out', azure_endpoint: em.azure.blobEndpoint,
      account_name: em.azure.accountName, account_key: em.azure.accountKey,
    },
    azure_spi: {
      type: 'azure_spi', role: 'export', container: bucket, prefix: 'spi', azure_endpoint: oauth.blobEndpoint,
      account_name: oauth.accountName, tenant_id: 'tenant', client_id: 'client', client_secret: 'not-used-offline',
    },
    redis: { type: 'redis', role: 'export', host: em.redis.host, port: String(em.redis.port), db: 3 },
    localfiles: { type: 'localfiles', role: 'export', path: localPath },
  };
}

/** Stores a storage item as the API would (secret fields encrypted). */
export async function createTarget(env: ExportEnv, projectId: number, config: StorageConfig, extra: Record<string, unknown> = {}): Promise<StorageItem> {
  const [id] = [await reserveIds(env.db, 'storage', 1)];
  const fields: Record<string, unknown> = { title: `${config.type} target`, ...extra };
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'type' || k === 'role') continue;
    if ((SECRET_FIELDS[config.type] ?? []).includes(k as never)) secrets[k] = v;
    else fields[k] = v;
  }
  const now = new Date().toISOString();
  const item: StorageItem = {
    kind: 'storage', id, projectId, orgId: 'org-export-test', type: config.type as StorageType, role: 'export', fields,
    secrets: Object.keys(secrets).length ? await env.secretBox.encrypt(JSON.stringify(secrets)) : undefined,
    status: 'initialized', last_sync: null, last_sync_count: null, last_sync_job: null, traceback: null, meta: {}, synchronizable: true,
    created_at: now, updated_at: now,
  };
  await putStorage(env.db, item);
  return item;
}

/** A project with one task (blob-mode data, so `$undefined$` renaming is exercised). */
export async function createProjectWithTask(env: ExportEnv, tasks = 1): Promise<{ project: ProjectItem; taskIds: number[] }> {
  const pid = await reserveIds(env.db, 'project', 1);
  const now = new Date().toISOString();
  const project: ProjectItem = {
    kind: 'project', id: pid, orgId: 'org-export-test', title: 'export', description: '', label_config: '<View><Image name="img" value="$image"/></View>',
    data_keys: ['image'], created_at: now, updated_at: now,
  };
  await putProject(env.db, project);
  const first = await reserveIds(env.db, 'task', tasks);
  const items: TaskItem[] = Array.from({ length: tasks }, (_, i) => ({
    kind: 'task', id: first + i, projectId: pid, orgId: 'org-export-test', data: { $undefined$: `s3://media/${i}.png` }, is_labeled: false,
    total_annotations: 0, cancelled_annotations: 0, total_predictions: 0, created_at: now, updated_at: now,
  }));
  await putTasks(env.db, items);
  return { project, taskIds: items.map((t) => t.id) };
}

/** Reads new records of the table's stream (from where it was created on), as Lambda would get them. */
export class StreamTap {
  private readonly client: DynamoDBStreamsClient;
  private iterators = new Map<string, string | undefined>();
  private streamArn = '';

  constructor() {
    const em = inject('emulators');
    this.client = new DynamoDBStreamsClient({
      endpoint: em.dynamodb.endpoint,
      region: em.dynamodb.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  /** Positions every open shard at LATEST: only changes made after this call are read. */
  async start(): Promise<void> {
    const streams = await this.client.send(new ListStreamsCommand({ TableName: inject('tableName') }));
    this.streamArn = streams.Streams?.[0]?.StreamArn ?? '';
    if (!this.streamArn) throw new Error('table has no stream');
    const d = await this.client.send(new DescribeStreamCommand({ StreamArn: this.streamArn }));
    for (const s of d.StreamDescription?.Shards ?? []) {
      if (s.SequenceNumberRange?.EndingSequenceNumber) continue;
      const it = await this.client.send(new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: s.ShardId!, ShardIteratorType: 'LATEST' }));
      this.iterators.set(s.ShardId!, it.ShardIterator);
    }
  }

  get arn(): string {
    return this.streamArn;
  }

  get streams(): DynamoDBStreamsClient {
    return this.client;
  }

  /** Shard of each record returned by `read` (for building on-failure messages). */
  readonly shardOf = new Map<string, string>();

  /** Every record written since the last read (until a read comes back empty). */
  async read(): Promise<_Record[]> {
    const out: _Record[] = [];
    for (const [shard, iterator] of this.iterators) {
      let it = iterator;
      for (let i = 0; it && i < 50; i++) {
        const r = await this.client.send(new GetRecordsCommand({ ShardIterator: it }));
        for (const rec of r.Records ?? []) this.shardOf.set(rec.dynamodb!.SequenceNumber!, shard);
        out.push(...(r.Records ?? []));
        it = r.NextShardIterator;
        if (!r.Records?.length) break;
      }
      this.iterators.set(shard, it);
    }
    return out;
  }

  /** Records of the given annotation ids only (other test files share the table). */
  async readFor(annotationIds: number[]): Promise<StreamRecordLike[]> {
    const want = new Set(annotationIds.map(String));
    return (await this.read()).filter((r) => {
      const img = r.dynamodb?.NewImage ?? r.dynamodb?.OldImage;
      return img?.kind?.S === 'annotation' && want.has(img?.id?.N ?? '');
    }) as StreamRecordLike[];
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** Reads an object as text, or undefined when it does not exist. */
export async function readObject(p: StorageProvider, key: string): Promise<string | undefined> {
  try {
    const r = await p.read(key);
    const chunks: Buffer[] = [];
    for await (const c of r.body) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'not_found') return undefined;
    throw e;
  }
}

/** Saves an annotation of `taskId` straight into the table (its stream record drives the export). */
export async function annotate(env: ExportEnv, projectId: number, taskId: number): Promise<AnnotationItem> {
  const id = await reserveIds(env.db, 'annotation', 1);
  const now = new Date().toISOString();
  return createAnnotation(env.db, {
    kind: 'annotation', id, taskId, projectId, orgId: 'org-export-test', result: [{ ok: id }], completed_by: 1, ground_truth: false,
    lead_time: 1, was_cancelled: false, version: 1, created_at: now, updated_at: now,
  });
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` (generous: a loaded 2-core machine is many times slower). */
export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The exported object of annotation `id` in a local-files target, or undefined while absent. */
export const fileOf = (s: StorageItem, id: number): Promise<string | undefined> =>
  readFile(join(String(s.fields.path), String(id)), 'utf8').catch(() => undefined);
