/**
 * Every AWS call each function makes in a representative run of the local runtime (the real
 * handlers, the synthesized state machine, the stream poller) is recorded and evaluated against
 * that function's role policy as synthesized, with the deployer's readable/writable buckets and
 * the same ambient grants: a call IAM would deny fails the test; what a role may do that no call
 * used is printed as the excess list.
 *
 * Storages here have no keys of their own, so S3 is signed by the function's identity (locally the
 * emulator's keys through the default chain; in AWS the role). Calls signed with a storage's own
 * credentials are not the role's business and are left out. Not recordable locally: the stream
 * reads and DLQ sends of the event source mapping (made by the Lambda service with the role), X-Ray,
 * logs, and KMS (the local secret box needs no key).
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { importHandler, invokeLocal, REPO_ROOT } from '../../local/lambda-functions';
import { startRuntime, type LabelsyncRuntime } from '../../local/runtime';
import { installCallRecorder, type AwsCall } from '../../shared/aws/call-recorder';
import { LOCAL_ACCOUNT_ID } from '../../local/apigw-event';
import { createEmulatorS3Client } from '../emulators/s3-client';
import { evaluate, functionPolicies, unexercised, type PolicyDocument } from './iam-policies';
import { synth } from './synth';
import { runtimeApi } from '../integration/runtime-client';

const RUN = Date.now().toString(36);
const SOURCE = `iam-src-${RUN}`;
const TARGET = `iam-tgt-${RUN}`;
const REGION = 'us-east-1';
// The runtime's synthesized state machine, kept between runs (the runtime checks its source hash).
const MACHINE_CACHE = join(REPO_ROOT, '.labelsync', 'iam-evaluation-state-machine.json');
const ENV_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'LABELSYNC_AMBIENT_GRANTS'];

const calls: AwsCall[] = [];
const saved: Record<string, string | undefined> = {};
let runtime: LabelsyncRuntime;
let dir: string;
let s3: S3Client;
let policies: Record<FunctionName, PolicyDocument>;

const api = runtimeApi(() => runtime);

/** A webhook receiver on loopback: counts the deliveries it answers 200 to. */
let receiver: Server;
let delivered = 0;

// Generous: each wait spans the stream poller's batching window and a Lambda-like invocation,
// which take many times longer when the two cores are shared with the rest of the suite.
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const finished = (path: string) =>
  waitFor(`${path} finished`, async () => {
    const s = await api('GET', path);
    return ['completed', 'failed', 'completed_with_errors'].includes(s.json?.status) ? s.json : undefined;
  });

const targetKeys = async () => (await s3.send(new ListObjectsV2Command({ Bucket: TARGET }))).Contents?.map((o) => o.Key!) ?? [];

beforeAll(async () => {
  const em = inject('emulators');
  s3 = createEmulatorS3Client(em.s3);
  for (const b of [SOURCE, TARGET]) await s3.send(new CreateBucketCommand({ Bucket: b }));
  for (let i = 1; i <= 3; i++) {
    await s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: `in/t${i}.json`, Body: JSON.stringify({ image: `s3://${SOURCE}/img/${i}.jpg` }) }));
    await s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: `img/${i}.jpg`, Body: `jpeg ${i}` }));
  }
  for (const k of ENV_KEYS) saved[k] = process.env[k];
  // The default credential chain (the "function's own identity") signs keyless storages.
  process.env.AWS_ACCESS_KEY_ID = em.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = em.s3.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  process.env.LABELSYNC_AMBIENT_GRANTS = JSON.stringify({ '*': [`s3://${SOURCE}/`, `s3://${TARGET}/`] });

  const template = synth({ readableBuckets: `arn:aws:s3:::${SOURCE}`, writableBuckets: `arn:aws:s3:::${TARGET}`, ambientGrants: process.env.LABELSYNC_AMBIENT_GRANTS });
  policies = functionPolicies(template.resources, { region: REGION, table: inject('tableName') });

  receiver = createServer((req, res) => {
    req.resume().on('end', () => {
      delivered++;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  installCallRecorder({ accountId: LOCAL_ACCOUNT_ID, record: (c) => calls.push(c) });
  dir = await mkdtemp(join(tmpdir(), 'labelsync-iam-'));
  await mkdir(join(dir, 'data'), { recursive: true });
  await copyFile(MACHINE_CACHE, join(dir, 'data', 'state-machine.json')).catch(() => {});
  runtime = await startRuntime({
    port: 0,
    dataDir: join(dir, 'data'),
    dynamodbEndpoint: em.dynamodb.endpoint,
    tableName: inject('tableName'),
    region: REGION,
    preloadStateMachine: true,
    progressEveryMs: 0,
    log: () => {},
  });
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
  if (dir) await mkdir(dirname(MACHINE_CACHE), { recursive: true }).then(() => copyFile(join(dir, 'data', 'state-machine.json'), MACHINE_CACHE)).catch(() => {});
  installCallRecorder(undefined);
  s3?.destroy();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The scenarios: API CRUD, an S3 import sync, media resolve, a target storage with its export sync, the stream, a webhook delivered. */
async function runScenarios(): Promise<void> {
  const project = await api('POST', '/api/projects/', { title: 'iam', label_config: '<View><Image name="img" value="$image"/></View>' });
  expect(project.status).toBe(201);
  const pid = project.json.id as number;
  expect((await api('POST', `/api/projects/${pid}/import`, [{ image: 'https://example.com/a.jpg' }])).status).toBe(201);

  const source = await api('POST', '/api/storages/s3/', { project: pid, bucket: SOURCE, prefix: 'in/', regex_filter: '.*\\.json', use_blob_urls: false, presign: true, s3_endpoint: inject('emulators').s3.endpoint, region_name: REGION });
  expect(source.status, JSON.stringify(source.json)).toBe(201);
  expect((await api('POST', `/api/storages/s3/${source.json.id}/sync`)).status).toBe(200);
  expect((await finished(`/api/storages/s3/${source.json.id}`)).status).toBe('completed');

  const tasks = await api('GET', `/api/tasks?project=${pid}&page_size=10`);
  const synced = (tasks.json.tasks as { id: number; data: { image: string } }[]).filter((t) => t.data.image.includes('/resolve/'));
  expect(synced.length).toBe(3);
  const media = await fetch(new URL(synced[0].data.image, runtime.url), { redirect: 'manual' });
  expect([302, 303]).toContain(media.status);

  const target = await api('POST', '/api/storages/export/s3/', { project: pid, bucket: TARGET, prefix: 'out/', can_delete_objects: true, s3_endpoint: inject('emulators').s3.endpoint, region_name: REGION });
  expect(target.status, JSON.stringify(target.json)).toBe(201);
  await finished(`/api/storages/export/s3/${target.json.id}`);

  const port = (receiver.address() as { port: number }).port;
  const hook = await api('POST', '/api/webhooks/', { project: pid, url: `http://127.0.0.1:${port}/hook`, send_for_all_actions: true });
  expect(hook.status, JSON.stringify(hook.json)).toBe(201);

  const ann = await api('POST', `/api/tasks/${synced[0].id}/annotations`, { result: [], lead_time: 1 });
  expect(ann.status).toBe(201);
  const exported = (keys: string[]) => keys.some((k) => k.replace(/\.json$/, '') === `out/${ann.json.id}`);
  await waitFor('annotation exported', async () => (exported(await targetKeys()) ? true : undefined));
  expect((await api('DELETE', `/api/annotations/${ann.json.id}`)).status).toBe(204);
  await waitFor('export object deleted', async () => (!exported(await targetKeys()) ? true : undefined));
  await waitFor('webhook delivered', async () => (delivered > 0 ? true : undefined));

  expect((await api('DELETE', `/api/storages/export/s3/${target.json.id}`)).status).toBe(204);
  expect((await api('DELETE', `/api/projects/${pid}`)).status).toBe(204);
  await runEventFunctions(source.json.id as number);
}

/**
 * The functions no HTTP request reaches, invoked as EventBridge would: the sweeper and the export
 * replay on their schedules, the execution-failed finalizer on a FAILED event of a job that is not
 * the storage's current one (it reads the storage and leaves it), a storage's schedule, and an S3
 * notification through the storage events queue.
 */
async function runEventFunctions(storageId: number): Promise<void> {
  const base = { version: '0', id: 'iam-evaluation', source: 'aws.events', account: LOCAL_ACCOUNT_ID, time: new Date().toISOString(), region: REGION, resources: [] };
  for (const name of ['sweeper', 'exportReplay'] as const) {
    await invokeLocal(name, await importHandler(name), { ...base, 'detail-type': 'Scheduled Event', detail: {} }, { region: REGION });
  }
  // A schedule of a storage whose project is gone: the function reads the storage and stops.
  await invokeLocal('scheduledSync', await importHandler('scheduledSync'), { storageId }, { region: REGION });
  // An S3 notification (EventBridge → SQS) for a bucket no storage follows: looked up and dropped.
  const s3Event = { ...base, source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: `iam-unfollowed-${RUN}` }, object: { key: 'a.json', size: 1, etag: 'e', sequencer: '01' } } };
  const sqsEvent = { Records: [{ messageId: 'm-1', receiptHandle: 'r', body: JSON.stringify(s3Event), attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${REGION}:${LOCAL_ACCOUNT_ID}:events`, awsRegion: REGION }] };
  const events = (await invokeLocal('storageEvents', await importHandler('storageEvents'), sqsEvent, { region: REGION })) as { batchItemFailures: unknown[] };
  expect(events.batchItemFailures).toEqual([]);
  const name = `${storageId}-not-its-job`;
  const detail = {
    executionArn: `arn:aws:states:${REGION}:${LOCAL_ACCOUNT_ID}:execution:labelsync-sync:${name}`,
    name,
    status: 'FAILED',
    input: JSON.stringify({ storageId, jobId: 'not-its-job', role: 'import' }),
  };
  await invokeLocal('syncExecutionFailed', await importHandler('syncExecutionFailed'), { ...base, 'detail-type': 'Step Functions Execution Status Change', source: 'aws.states', detail }, { region: REGION });
}

describe('iam: every recorded AWS call against its function\'s synthesized role', () => {
  it('no call of the scenarios is denied; the excess list is printed', async () => {
    // The runtime's own start (the operator's token, outside any function) is not a function's call.
    calls.length = 0;
    await runScenarios();
    // npm start keeps sync schedules as LOCALSCHEDULE items (shared/db/repo-local-schedules.ts)
    // where AWS has EventBridge Scheduler: those writes stand for scheduler:* calls, whose grants
    // test/infra/schedules.test.ts asserts per function, so they are not evaluated as table writes.
    const localScheduler = (c: AwsCall) => JSON.stringify(c.context?.['dynamodb:LeadingKeys']) === '["LOCALSCHEDULE"]';
    const byRole = calls.filter((c) => c.identity === 'role' && c.fn !== 'unknown' && !localScheduler(c));
    const denied: string[] = [];
    for (const c of byRole) {
      const verdict = await evaluate(policies[c.fn as FunctionName], c);
      if (verdict !== 'Allowed') denied.push(`${c.fn}: ${c.action} on ${c.resource} ${JSON.stringify(c.context)} → ${verdict}`);
    }
    const fns = new Set(byRole.map((c) => c.fn));
    // The scenarios reach every function that makes AWS calls of its own.
    // meta (/health, the OpenAPI document, the console) makes no AWS call.
    const silent = ['meta'];
    expect([...fns].sort()).toEqual(Object.keys(FUNCTIONS).filter((f) => !silent.includes(f)).sort());
    expect(calls.filter((c) => c.identity === 'role' && c.fn === 'unknown').map((c) => `${c.action} ${c.resource}`)).toEqual([]);
    const excess = Object.entries(policies).flatMap(([fn, p]) => unexercised(p, byRole.filter((c) => c.fn === fn)).map((e) => `${fn}: ${e}`));
    const perFunction = [...fns].sort().map((f) => `${f} ${byRole.filter((c) => c.fn === f).length}`).join(', ');
    console.log(`[iam] ${byRole.length} calls evaluated (${perFunction}; no AWS call: ${silent.join(', ')}), ${denied.length} denied\n[iam] granted, never exercised:\n  ${excess.join('\n  ')}`);
    expect(denied).toEqual([]);
  }, 240_000);
});
