import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { FUNCTIONS, type FunctionName } from '../functions/manifest';
import { readConfig } from './config';
import { Data } from './constructs/data';
import { ExportPipeline } from './constructs/export-pipeline';
import { HttpApi } from './constructs/http-api';
import { Monitoring } from './constructs/monitoring';
import {
  NodeFunction,
  bindAssumeRole,
  bindBucketListing,
  bindBuckets,
  bindKmsKey,
  bindStateMachine,
  bindTable,
  type TableAccess,
} from './constructs/node-function';
import { StorageEvents } from './constructs/storage-events';
import { Schedules } from './constructs/schedules';
import { SyncFailureRule } from './constructs/sync-failure-rule';
import { SyncStateMachine } from './constructs/sync-state-machine';
import { keys } from '../shared/db/keys';
import { syncKeys } from '../shared/db/sync-keys';
import { exportLinkKey } from '../shared/db/repo-export-links';
import { FAILURE_PK } from '../shared/db/repo-export-failures';
import { SIGNING_KEY_ITEM } from '../shared/db/repo-config';

/** What each function may touch. Anything not listed here is denied. */
interface Grants {
  table: TableAccess;
  /** `decrypt`: read secrets; `encrypt`: also wrap new data keys (GenerateDataKey). */
  kms?: 'decrypt' | 'encrypt';
  /**
   * Customer storages (assume a user-supplied role; the deployer's readable/writable buckets):
   * `read` lists and reads sources; `validate` also lists targets (a target storage is validated
   * when it is created and when its sync is requested); `write` also writes targets.
   */
  storage?: 'read' | 'validate' | 'write';
}

/** The partition-key family of a key builder's `pk` (`JOB#` of `JOB#<id>`), so the grants follow shared/db. */
const family = (pk: string): string => (pk.includes('#') ? pk.slice(0, pk.indexOf('#') + 1) : pk);
const PK = {
  org: family(keys.org('o').pk),
  storage: family(keys.storage(1).pk),
  job: family(syncKeys.job('j').pk),
  config: family(SIGNING_KEY_ITEM.pk),
  exportLink: family(exportLinkKey(1, 1).pk),
  exportFailure: FAILURE_PK,
  // Last-run digests and the link-page run registry of a storage (repo-digests, repo-link-pages).
  storageRuns: 'SUM#',
};
// Any function that builds an s3s provider may create its organization's external id (ORG#).
const STEP_WRITES = [PK.job, PK.storageRuns, PK.storage, PK.org];

/**
 * Write scopes: functions whose writes stay in a few item families are limited to them with
 * dynamodb:LeadingKeys. projects, storages, syncChunk and syncFinalize keep table-wide writes:
 * task import and project/storage deletion reach every family of a project (tasks, annotations,
 * links, pages, tombstones, digests, export links), and the ids are not known at deploy time.
 */
const GRANTS: Record<FunctionName, Grants> = {
  // Health and the OpenAPI document: at most a token lookup.
  meta: { table: { read: true } },
  projects: { table: { read: true, write: true }, kms: 'encrypt' },
  storages: { table: { read: true, write: true }, kms: 'encrypt', storage: 'validate' },
  // The signing key is created on first use; the rest is reads.
  resolve: { table: { read: true, write: true, writeKeys: [PK.config, PK.org] }, kms: 'encrypt', storage: 'read' },
  syncStart: { table: { read: true, write: true, writeKeys: STEP_WRITES }, kms: 'decrypt', storage: 'read' },
  syncList: { table: { read: true, write: true, writeKeys: STEP_WRITES }, kms: 'decrypt', storage: 'read' },
  syncChunk: { table: { read: true, write: true }, kms: 'decrypt', storage: 'write' },
  // Final status and counters only: it decrypts a storage's secrets to redact them from the error.
  syncFinalize: { table: { read: true, write: true }, kms: 'decrypt' },
  // Export links, failure records, a failing target's status.
  exportStream: { table: { read: true, write: true, stream: true, writeKeys: [PK.exportLink, PK.exportFailure, PK.storage, PK.org] }, kms: 'decrypt', storage: 'write' },
  // Reads the storage and writes its status; decrypts its config only to scrub secrets from the traceback.
  syncExecutionFailed: { table: { read: true, write: true }, kms: 'decrypt' },
  // Deletes what deleted projects left: table items only.
  sweeper: { table: { read: true, write: true } },
  // Reads dead-lettered batches back from the stream and re-exports recorded failures: the export's item families.
  exportReplay: { table: { read: true, write: true, stream: true, writeKeys: [PK.exportLink, PK.exportFailure, PK.storage, PK.org] }, kms: 'decrypt', storage: 'write' },
  // Event sync writes what a chunk writes (tasks, annotations, links, overlays, its chunk item) and reads objects.
  storageEvents: { table: { read: true, write: true }, kms: 'decrypt', storage: 'read' },
};

/**
 * labelsync in one stack: data (table, KMS key), one Lambda per manifest function, the HTTP API,
 * the sync state machine and the export stream pipeline. Options come from CDK context (lib/config.ts).
 */
export class LabelsyncStack extends Stack {
  readonly functions: Record<FunctionName, NodeFunction>;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, { description: 'labelsync: serverless, Label-Studio-compatible storage sync', ...props });
    const config = readConfig(this.node);
    const data = new Data(this, 'Data', { warmThroughput: { writeUnitsPerSecond: config.tableWarmWrites, readUnitsPerSecond: config.tableWarmReads } });

    const common: Record<string, string> = {
      LABELSYNC_SYNC_CONCURRENCY: String(config.syncConcurrency),
      ...(config.syncChunkSize ? { LABELSYNC_SYNC_CHUNK_SIZE: String(config.syncChunkSize) } : {}),
      ...(config.publicBaseUrl ? { LABELSYNC_PUBLIC_BASE_URL: config.publicBaseUrl } : {}),
      ...(config.allowedEndpoints.length ? { LABELSYNC_ALLOWED_ENDPOINTS: config.allowedEndpoints.join(',') } : {}),
      ...(config.ambientGrants ? { LABELSYNC_AMBIENT_GRANTS: config.ambientGrants } : {}),
    };
    const fns = {} as Record<FunctionName, NodeFunction>;
    for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
      const fn = new NodeFunction(this, name, {
        spec: FUNCTIONS[name],
        environment: common,
        logRetentionDays: config.logRetentionDays,
        sourceMaps: config.sourceMaps,
      });
      const g = GRANTS[name];
      bindTable(fn, data.table, g.table);
      if (g.kms) bindKmsKey(fn, data.secretsKey, { encrypt: g.kms === 'encrypt' });
      if (g.storage) {
        bindAssumeRole(fn, config.assumableRoleArns);
        bindBuckets(fn, config.readableBuckets, { write: false });
        if (g.storage === 'validate') bindBucketListing(fn, config.writableBuckets);
        if (g.storage === 'write') bindBuckets(fn, config.writableBuckets, { write: true });
      }
      fns[name] = fn;
    }
    this.functions = fns;

    const sync = new SyncStateMachine(this, 'Sync', {
      functions: { syncStart: fns.syncStart, syncList: fns.syncList, syncChunk: fns.syncChunk, syncFinalize: fns.syncFinalize },
      maxConcurrency: config.syncConcurrency,
      logRetention: config.logRetentionDays as logs.RetentionDays,
    });
    bindStateMachine(fns.storages, sync.stateMachine);
    const syncFailed = new SyncFailureRule(this, 'SyncFailed', { stateMachine: sync.stateMachine, fn: fns.syncExecutionFailed });

    const exportPipeline = new ExportPipeline(this, 'Export', { fn: fns.exportStream, replayFn: fns.exportReplay, table: data.table });

    new Schedules(this, 'Schedules', { functions: fns });

    const storageEvents = new StorageEvents(this, 'StorageEvents', { fn: fns.storageEvents, sourceAccounts: config.eventSourceAccounts });

    const api = new HttpApi(this, 'Http', {
      functions: fns,
      corsOrigins: config.corsOrigins,
      rateLimit: config.apiRateLimit,
      burstLimit: config.apiBurstLimit,
      logRetention: config.logRetentionDays as logs.RetentionDays,
    });

    const monitoring = new Monitoring(this, 'Monitoring', {
      functions: fns,
      stateMachine: sync.stateMachine,
      table: data.table,
      deadLetterQueues: { export: exportPipeline.deadLetterQueue, syncFailed: syncFailed.deadLetterQueue, storageEvents: storageEvents.deadLetterQueue },
      backlogQueues: { storageEvents: storageEvents.queue },
      streamConsumer: fns.exportStream,
      alarmEmail: config.alarmEmail,
    });

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL of the Label-Studio-compatible API' });
    new CfnOutput(this, 'StateMachineArn', { value: sync.stateMachine.stateMachineArn, description: 'Sync job state machine' });
    new CfnOutput(this, 'TableName', { value: data.table.tableName, description: 'DynamoDB table (LABELSYNC_TABLE)' });
    new CfnOutput(this, 'SecretsKeyArn', { value: data.secretsKey.keyArn, description: 'KMS key wrapping storage secrets (LABELSYNC_KMS_KEY_ID)' });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.topic.topicArn, description: 'SNS topic every alarm notifies (subscribe to it, or set context alarmEmail)' });
    new CfnOutput(this, 'ExportDeadLetterQueueUrl', { value: exportPipeline.deadLetterQueue.queueUrl, description: 'Export records that could not be delivered' });
  }
}
