/**
 * The local ASL runner on the real synthesized sync definition (lib/ → CloudFormation template →
 * resolved ASL), with Task states calling local handlers. The sync handlers are injected through
 * the runner's resolver so each test controls what a step returns; they read and write DynamoDB
 * Local like the real ones. The production path (runtime.ts) resolves the manifest modules instead.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { StateMachineDefinition } from '../../local/asl/interpreter';
import { createDocumentClient } from '../../shared/db/client';
import type { FunctionName } from '../../functions/manifest';
import { LocalStateMachine, prepareDefinition } from '../../local/asl-runner';
import type { LambdaHandler } from '../../local/lambda-functions';
import { LOCAL_SYNC_CONCURRENCY, resolveStateMachine, synthesizeStateMachine, type CfnTemplate } from '../../local/state-machine-definition';
import { synth } from '../infra/synth';
import { LocalSyncStarter } from '../../local/sync-starter';
import { importHandler } from '../../local/lambda-functions';
import { updateStorageStatus } from '../../shared/db/repo-storage-sync-state';
import { finalizeFailedExecution } from '../../shared/sync/execution-failed';
import { MAX_CHUNK_REFS_PER_STEP, MAX_CHUNK_REF_BYTES, MAX_STEP_CHUNK_BUDGET, STATE_OVERHEAD_BYTES } from '../../shared/sync/list-step-limit';
import { DEFAULT_SYNC_SETTINGS } from '../../shared/sync/deps';
import { processApp } from '../../shared/process-app';
import { newTenant, useTestEnvironment } from './api-harness';
import { newProject, newStorage, storageOf } from './sync-helpers';

let definition: StateMachineDefinition;
let logicalId: string;
const doc = () => createDocumentClient({ endpoint: inject('emulators').dynamodb.endpoint, region: 'us-east-1' });
const table = () => inject('tableName');

beforeAll(async () => {
  ({ definition, logicalId } = await synthesizeStateMachine('us-east-1'));
}, 120_000);

type Stubs = Partial<Record<FunctionName, (event: any, context: Context) => unknown>>;
function machine(stubs: Stubs, maxConcurrency?: number): LocalStateMachine {
  let def = definition;
  if (maxConcurrency !== undefined) {
    def = structuredClone(definition);
    (def as any).States.Loop.Branches[1].States.Write.MaxConcurrency = maxConcurrency;
  }
  return new LocalStateMachine({
    definition: def,
    region: 'us-east-1',
    log: () => {},
    strict: true,
    // Every step retries States.TaskFailed with jittered backoff of seconds: keep the tests fast.
    retryIntervalOverrides: { Start: 1, ListStep: 1, WriteChunk: 1, Finalize: 1 },
    resolveHandler: async (fn) => {
      const h = stubs[fn];
      if (!h) throw new Error(`no stub for ${fn}`);
      return h as LambdaHandler;
    },
  });
}

/** A lister that returns the given number of chunk refs per step, then reports done. */
function lister(steps: number[]) {
  let i = 0;
  return async (e: any) => {
    const n = steps[i] ?? 0;
    const chunks = Array.from({ length: n }, (_, k) => ({ jobId: e.jobId, chunk: i * 100 + k }));
    i++;
    return { token: i < steps.length ? `t${i}` : null, done: i >= steps.length, chunks, listed: n * 10 };
  };
}

describe('local ASL runner on the synthesized sync definition', () => {
  it('binds every Task state to its manifest function', () => {
    const m = machine({});
    expect(Object.fromEntries([...m.tasks].map(([k, v]) => [k, v.fn]))).toEqual({
      Start: 'syncStart',
      ListStep: 'syncList',
      WriteChunk: 'syncChunk',
      Finalize: 'syncFinalize',
    });
  });

  it('runs start → list/write loop → finalize through local handlers that write DynamoDB Local', async () => {
    const db = doc();
    const jobId = randomUUID();
    const pk = `LOCALSFN#${jobId}`;
    const written: number[] = [];
    const m = machine({
      syncStart: async (e) => db.send(new PutCommand({ TableName: table(), Item: { pk, sk: 'START', kind: 'job', storageId: e.storageId } })),
      syncList: lister([2, 3]),
      syncChunk: async (e) => {
        written.push(e.chunk);
        await db.send(new PutCommand({ TableName: table(), Item: { pk, sk: `CHUNK#${e.chunk}`, kind: 'chunk' } }));
        return { ok: true };
      },
      syncFinalize: async (e) =>
        db.send(new PutCommand({ TableName: table(), Item: { pk, sk: 'JOB', kind: 'job', status: e.error ? 'failed' : 'completed', listed: e.listed } })),
    });
    const out = (await m.start({ storageId: 5, jobId, role: 'import' }, `5-${jobId}`).result) as any;
    expect(out).toMatchObject({ storageId: 5, jobId, done: true, pending: [], listed: 50, error: null });
    expect(written.sort((a, b) => a - b)).toEqual([0, 1, 100, 101, 102]);
    const job = await db.send(new GetCommand({ TableName: table(), Key: { pk, sk: 'JOB' } }));
    expect(job.Item).toMatchObject({ status: 'completed', listed: 50 });
    expect((await db.send(new GetCommand({ TableName: table(), Key: { pk, sk: 'START' } }))).Item?.storageId).toBe(5);
    const chunk = await db.send(new GetCommand({ TableName: table(), Key: { pk, sk: 'CHUNK#102' } }));
    expect(chunk.Item?.kind).toBe('chunk');
  });

  it('gives each step a Lambda context counting down from the function’s manifest timeout', async () => {
    let remaining = 0;
    let fnName = '';
    const m = machine({
      syncStart: async () => ({}),
      syncList: async (e, ctx) => {
        remaining = ctx.getRemainingTimeInMillis();
        fnName = ctx.functionName;
        return lister([0])(e);
      },
      syncChunk: async () => ({}),
      syncFinalize: async () => ({}),
    });
    await m.start({ storageId: 1, jobId: 'ctx', role: 'export' }).result;
    expect(remaining).toBeGreaterThan(295_000);
    expect(remaining).toBeLessThanOrEqual(300_000);
    expect(fnName).toBe('labelsync-syncList');
  });

  it('tolerates failing chunks (ToleratedFailurePercentage 100) and hands a failed listing to Finalize with Lambda’s error shape', { timeout: 20_000 }, async () => {
    const finals: any[] = [];
    let chunkCalls = 0;
    const m = machine({
      syncStart: async () => ({}),
      syncList: lister([3]),
      syncChunk: async (e) => {
        chunkCalls++;
        if (e.chunk === 1) throw new Error('chunk exploded');
        return {};
      },
      syncFinalize: async (e) => finals.push(e),
    });
    await m.start({ storageId: 2, jobId: 'tolerate', role: 'import' }).result;
    // Two good chunks once each; the failing one 1 + 3 retries (WriteChunk retries States.TaskFailed
    // 3 times, since the chunk step is idempotent) before the Map tolerates it.
    expect(chunkCalls).toBe(2 + 1 + 3);
    expect(finals).toEqual([expect.objectContaining({ error: null, listed: 30 })]);

    class ListingError extends Error {
      override name = 'ListingError';
    }
    let listCalls = 0;
    const failing = machine({
      syncStart: async () => ({}),
      syncList: async () => {
        listCalls++;
        throw new ListingError('bucket gone');
      },
      syncChunk: async () => ({}),
      syncFinalize: async (e) => finals.push(e),
    });
    await failing.start({ storageId: 2, jobId: 'listfail', role: 'import' }).result;
    const last = finals.at(-1);
    expect(last.error.Error).toBe('ListingError');
    expect(JSON.parse(last.error.Cause)).toMatchObject({ errorType: 'ListingError', errorMessage: 'bucket gone' });
    // The listing step is idempotent: an unknown failure is retried 3 times before the Catch.
    expect(listCalls).toBe(4);
  });

  it('fails a listing StorageError at once (a permanent handler error is not retried)', async () => {
    class StorageError extends Error {
      override name = 'StorageError';
    }
    let listCalls = 0;
    const finals: any[] = [];
    const m = machine({
      syncStart: async () => ({}),
      syncList: async () => {
        listCalls++;
        throw new StorageError("bucket 'x' does not exist");
      },
      syncChunk: async () => ({}),
      syncFinalize: async (e) => finals.push(e),
    });
    await m.start({ storageId: 2, jobId: 'permanent', role: 'import' }).result;
    expect(listCalls).toBe(1);
    expect(finals[0].error.Error).toBe('StorageError');
  });

  it('keeps at most MaxConcurrency chunk writers running at once', async () => {
    let running = 0;
    let peak = 0;
    const m = machine(
      {
        syncStart: async () => ({}),
        syncList: lister([12]),
        syncChunk: async () => {
          peak = Math.max(peak, ++running);
          await new Promise((r) => setTimeout(r, 40));
          running--;
          return {};
        },
        syncFinalize: async () => ({}),
      },
      3,
    );
    await m.start({ storageId: 3, jobId: 'conc', role: 'import' }).result;
    expect(peak).toBe(3);
  });
});

describe('LocalSyncStarter', () => {
  it('runs one execution per name and at most maxConcurrent at once', async () => {
    let starts = 0;
    let running = 0;
    let peak = 0;
    const m = machine({
      syncStart: async () => {
        starts++;
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 80));
        running--;
        return {};
      },
      syncList: lister([0]),
      syncChunk: async () => ({}),
      syncFinalize: async () => ({}),
    });
    const starter = new LocalSyncStarter({ machine: async () => m, maxConcurrent: 2, log: () => {} });
    await starter.start({ storageId: 1, jobId: 'a', role: 'import' }, '1-a');
    await starter.start({ storageId: 1, jobId: 'a', role: 'import' }, '1-a');
    for (const j of ['b', 'c', 'd']) await starter.start({ storageId: 1, jobId: j, role: 'import' }, `1-${j}`);
    await starter.idle();
    expect(starts).toBe(4);
    expect(peak).toBe(2);
    expect(starter.get('1-a')?.status).toBe('SUCCEEDED');
    // Same name after it finished: still a no-op.
    await starter.start({ storageId: 1, jobId: 'a', role: 'import' }, '1-a');
    await starter.idle();
    expect(starts).toBe(4);
  });

  it('records a failed execution with Step Functions’ Error and Cause', async () => {
    const m = machine({
      syncStart: async () => ({}),
      syncList: lister([0]),
      syncChunk: async () => ({}),
      syncFinalize: async () => {
        throw new TypeError('finalize broke');
      },
    });
    const starter = new LocalSyncStarter({ machine: async () => m, log: () => {} });
    await starter.start({ storageId: 9, jobId: 'f', role: 'import' }, '9-f');
    await starter.idle();
    const rec = starter.get('9-f');
    expect(rec?.status).toBe('FAILED');
    expect(rec?.error?.Error).toBe('TypeError');
    expect(JSON.parse(rec!.error!.Cause).errorMessage).toBe('finalize broke');
  });

  it('starts executions a stop interrupted again on the next start (journal), then forgets them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'labelsync-journal-'));
    const journalFile = join(dir, 'executions.json');
    try {
      let release!: () => void;
      const blocked = new Promise<void>((r) => (release = r));
      const finals: string[] = [];
      const stubs = (block: boolean): Stubs => ({
        syncStart: async () => (block ? blocked : {}),
        syncList: lister([1]),
        syncChunk: async () => ({}),
        syncFinalize: async (e) => void finals.push(e.jobId),
      });
      const first = new LocalSyncStarter({ machine: async () => machine(stubs(true)), journalFile, log: () => {} });
      await first.start({ storageId: 4, jobId: 'resume', role: 'import' }, '4-resume');
      await new Promise((r) => setTimeout(r, 100));
      await first.stop();
      release();
      expect(first.get('4-resume')?.status).toBe('ABORTED');
      expect(JSON.parse(await readFile(journalFile, 'utf8'))).toEqual({ '4-resume': { storageId: 4, jobId: 'resume', role: 'import' } });

      const second = new LocalSyncStarter({ machine: async () => machine(stubs(false)), journalFile, log: () => {} });
      expect(await second.resume()).toEqual(['4-resume']);
      await second.idle();
      expect(second.get('4-resume')?.status).toBe('SUCCEEDED');
      expect(finals).toEqual(['resume']);
      await second.stop();
      expect(JSON.parse(await readFile(journalFile, 'utf8'))).toEqual({});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('definition loading', () => {
  it('takes from the construct tree exactly the definition the synthesized template holds', async () => {
    const cdkJson = JSON.parse(await readFile(join(process.cwd(), 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
    const syncConcurrency = process.env.LABELSYNC_SYNC_CONCURRENCY || String(LOCAL_SYNC_CONCURRENCY);
    const template = synth({ ...cdkJson.context, syncConcurrency }).template.toJSON() as CfnTemplate;
    const fromTemplate = resolveStateMachine(template, 'us-east-1');
    expect(definition).toEqual(fromTemplate.definition);
    expect(logicalId).toBe(fromTemplate.logicalId);
  }, 60_000);

  const lambda = (name: string) => ({ Type: 'AWS::Lambda::Function', Metadata: { 'labelsync:function': name } });
  it('resolves Fn::Join, Fn::GetAtt and pseudo parameters, mapping Lambda ARNs back through the metadata', () => {
    const template = {
      Resources: {
        StartFn1: lambda('syncStart'),
        SM: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            DefinitionString: {
              'Fn::Join': ['', ['{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"', { 'Fn::GetAtt': ['StartFn1', 'Arn'] }, '","Comment":"', { Ref: 'AWS::Partition' }, '","End":true}}}']],
            },
          },
        },
      },
    };
    const { definition } = resolveStateMachine(template, 'eu-west-1');
    expect((definition.States.S as any).Resource).toBe('arn:aws:lambda:eu-west-1:000000000000:function:labelsync-syncStart');
    expect((definition.States.S as any).Comment).toBe('aws');
    const unlabeled = structuredClone(template) as any;
    delete unlabeled.Resources.StartFn1.Metadata;
    expect(() => resolveStateMachine(unlabeled, 'eu-west-1')).toThrow(/labelsync:function/);
  });

  it('binds lambda:invoke Tasks through Parameters.FunctionName and refuses what it cannot run locally', () => {
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:labelsync-syncList';
    const invoke = prepareDefinition({ StartAt: 'T', States: { T: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: arn, 'Payload.$': '$' }, End: true } } } as any);
    expect(invoke.tasks.get('T')).toEqual({ fn: 'syncList', integration: 'invoke' });
    expect(() => prepareDefinition({ StartAt: 'T', States: { T: { Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage', End: true } } } as any)).toThrow(/not a labelsync function/);
    expect(() =>
      prepareDefinition({ StartAt: 'M', States: { M: { Type: 'Map', ItemReader: { Resource: 'arn:aws:states:::s3:getObject' }, ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }, End: true } } } as any),
    ).toThrow(/ItemReader/);
  });

  it('returns Lambda invoke’s response envelope for lambda:invoke Tasks and the payload for direct ones', async () => {
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:labelsync-syncStart';
    const def = {
      StartAt: 'Invoke',
      States: {
        Invoke: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: arn, 'Payload.$': '$' }, ResultSelector: { 'p.$': '$.Payload', 'code.$': '$.StatusCode' }, ResultPath: '$.r', Next: 'Direct' },
        Direct: { Type: 'Task', Resource: arn, ResultPath: '$.d', End: true },
      },
    } as unknown as StateMachineDefinition;
    const m = new LocalStateMachine({ definition: def, region: 'us-east-1', log: () => {}, resolveHandler: async () => (async (e: any) => ({ got: e.x ?? 'none' })) as LambdaHandler });
    expect(await m.start({ x: 1 }).result).toEqual({ x: 1, r: { p: { got: 1 }, code: 200 }, d: { got: 1 } });
  });
});

/** `n` chunk refs of the largest size the limit is computed for (uuid job id, 9-digit chunk numbers). */
function bigRefs(jobId: string, n: number, from: number) {
  return Array.from({ length: n }, (_, k) => ({ jobId, chunk: 100_000_000 + from + k }));
}

describe('AWS-strict payload limit (256 KiB) and terminal errors', () => {
  useTestEnvironment();
  let orgId: string;
  beforeAll(async () => {
    ({ orgId } = await newTenant('sfn-strict'));
  });
  const realFinalizer = async (e: unknown, c: Context) => (await importHandler('syncExecutionFailed'))(e, c);

  /** A storage in progress with job `jobId`, as syncStart leaves it. */
  async function runningStorage(jobId: string): Promise<number> {
    const projectId = await newProject(orgId);
    const storage = await newStorage(orgId, projectId, { type: 'localfiles', role: 'import', path: '/tmp', recursive_scan: true, use_blob_urls: false });
    await updateStorageStatus(processApp().db, storage.id, { status: 'in_progress', last_sync_job: jobId, meta: {} });
    return storage.id;
  }

  it('fails the execution with States.DataLimitExceeded when a ListStep returns 6,000 refs: no Catch on States.ALL sees it, Finalize is not reached, the finalizer marks the storage failed', async () => {
    const jobId = randomUUID();
    const storageId = await runningStorage(jobId);
    let listCalls = 0;
    let finalized = 0;
    const m = machine({
      syncStart: async () => ({}),
      syncList: async (e) => {
        listCalls++;
        return { token: null, done: true, chunks: bigRefs(e.jobId, 6_000, 0), listed: 6_000_000 };
      },
      syncChunk: async () => ({}),
      syncFinalize: async () => void finalized++,
      syncExecutionFailed: realFinalizer,
    });
    const starter = new LocalSyncStarter({ machine: async () => m, log: () => {} });
    await starter.start({ storageId, jobId, role: 'import' }, `${storageId}-${jobId}`);
    await starter.idle();
    const rec = starter.get(`${storageId}-${jobId}`)!;
    expect(rec.status).toBe('FAILED');
    expect(rec.error).toMatchObject({ Error: 'States.DataLimitExceeded', Cause: expect.stringContaining("'ListStep'") });
    expect(listCalls).toBe(1); // not retried either (States.TaskFailed does not match it)
    expect(finalized).toBe(0);
    const storage = await storageOf(storageId);
    expect(storage.status).toBe('failed');
    expect(storage.traceback).toContain('ended FAILED');
    expect(storage.traceback).toContain('States.DataLimitExceeded');
    expect(storage.meta.time_failure).toBeTruthy();
  });

  it('checks every state’s output, not only task results: two steps of 2,500 refs overflow the loop state (pending + listed)', async () => {
    let step = 0;
    let finalized = 0;
    const m = machine({
      syncStart: async () => ({}),
      syncList: async (e) => {
        step++;
        return { token: step < 3 ? `t${step}` : null, done: step >= 3, chunks: bigRefs(e.jobId, 2_500, step * 10_000), listed: 1 };
      },
      syncChunk: async () => ({}),
      syncFinalize: async () => void finalized++,
    });
    const err = await m.start({ storageId: 7, jobId: randomUUID(), role: 'import' }).result.then(
      () => undefined,
      (e: any) => e,
    );
    expect(err?.name).toBe('States.DataLimitExceeded');
    expect(err.message).toContain("'Loop'");
    expect(finalized).toBe(0);
  });

  it('runs listing steps of MAX_CHUNK_REFS_PER_STEP refs of the largest size with a long token through the loop', async () => {
    // The list step stops at its chunk budget between pages: half the refs stay free for the last page.
    expect(MAX_STEP_CHUNK_BUDGET).toBeLessThanOrEqual(MAX_CHUNK_REFS_PER_STEP / 2);
    expect(DEFAULT_SYNC_SETTINGS.maxChunksPerStep).toBeGreaterThanOrEqual(MAX_STEP_CHUNK_BUDGET);
    expect(MAX_CHUNK_REF_BYTES).toBe(JSON.stringify({ jobId: randomUUID(), chunk: 999_999_999 }).length + 1);
    expect(MAX_CHUNK_REFS_PER_STEP).toBe(1_803);
    const jobId = randomUUID();
    // A token of a third of the overhead budget (it appears twice in the loop state).
    const token = 'x'.repeat(Math.floor(STATE_OVERHEAD_BYTES / 3));
    let step = 0;
    let written = 0;
    const m = machine({
      syncStart: async () => ({}),
      syncList: async () => {
        step++;
        return { token: step < 3 ? token : null, done: step >= 3, chunks: bigRefs(jobId, MAX_CHUNK_REFS_PER_STEP, step * 10_000), listed: 1 };
      },
      syncChunk: async () => void written++,
      syncFinalize: async () => ({}),
    });
    const out = (await m.start({ storageId: 8, jobId, role: 'import' }).result) as any;
    expect(out.listed).toBe(3);
    expect(written).toBe(3 * MAX_CHUNK_REFS_PER_STEP);
  }, 60_000);

  it('a Finalize that keeps failing ends the execution FAILED and the storage failed with the error, not in_progress', async () => {
    const jobId = randomUUID();
    const storageId = await runningStorage(jobId);
    let finalizeCalls = 0;
    const m = machine({
      syncStart: async () => ({}),
      syncList: lister([1]),
      syncChunk: async () => ({}),
      syncFinalize: async () => {
        finalizeCalls++;
        throw new Error('finalize lost its table');
      },
      syncExecutionFailed: realFinalizer,
    });
    const starter = new LocalSyncStarter({ machine: async () => m, log: () => {} });
    await starter.start({ storageId, jobId, role: 'import' }, `${storageId}-${jobId}`);
    await starter.idle();
    expect(starter.get(`${storageId}-${jobId}`)?.status).toBe('FAILED');
    expect(finalizeCalls).toBe(4); // retried 3 times (idempotent), then the execution fails
    const storage = await storageOf(storageId);
    expect(storage.status).toBe('failed');
    expect(storage.traceback).toMatch(/ended FAILED: Error: finalize lost its table/);
  });

  it('the finalizer is conditional and idempotent: a final status, a newer job and chunk-map children are left alone', async () => {
    const deps = processApp().syncDeps();
    const jobId = randomUUID();
    const storageId = await runningStorage(jobId);
    const detail = (over: Record<string, unknown> = {}) => ({
      executionArn: `arn:aws:states:us-east-1:000000000000:execution:labelsync-sync:${storageId}-${jobId}`,
      name: `${storageId}-${jobId}`,
      status: 'TIMED_OUT',
      input: JSON.stringify({ storageId, jobId, role: 'import' }),
      error: null,
      cause: null,
      ...over,
    });
    const child = await finalizeFailedExecution(deps, detail({ executionArn: 'arn:aws:states:us-east-1:000000000000:execution:labelsync-sync/SyncChunks:abc', input: JSON.stringify({ storageId, jobId, role: 'import', chunk: 3 }) }));
    expect(child).toMatchObject({ marked: false });
    expect(await finalizeFailedExecution(deps, detail({ input: JSON.stringify({ storageId, jobId: 'older-job', role: 'import' }) }))).toMatchObject({ marked: false });
    expect((await storageOf(storageId)).status).toBe('in_progress');

    expect(await finalizeFailedExecution(deps, detail())).toMatchObject({ marked: true, storageId, jobId });
    const failed = await storageOf(storageId);
    expect(failed.traceback).toContain('ended TIMED_OUT: States.Timeout');
    // A second delivery of the same event (EventBridge is at-least-once) changes nothing.
    expect(await finalizeFailedExecution(deps, detail({ status: 'ABORTED' }))).toMatchObject({ marked: false });
    expect((await storageOf(storageId)).traceback).toBe(failed.traceback);

    const done = randomUUID();
    const completed = await runningStorage(done);
    await updateStorageStatus(deps.db, completed, { status: 'completed' });
    const r = await finalizeFailedExecution(deps, { ...detail(), status: 'FAILED', input: JSON.stringify({ storageId: completed, jobId: done, role: 'import' }) });
    expect(r).toMatchObject({ marked: false });
    expect((await storageOf(completed)).status).toBe('completed');
  });
});
