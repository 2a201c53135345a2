import { Duration, JsonNull, RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledgeWildcardResources } from '../nag';
import { executionsArn } from './node-function';

export interface SyncStateMachineProps {
  functions: {
    syncStart: lambda.IFunction;
    syncList: lambda.IFunction;
    syncChunk: lambda.IFunction;
    syncFinalize: lambda.IFunction;
  };
  /** MaxConcurrency of the distributed chunk map. */
  maxConcurrency: number;
  /** @default one month */
  logRetention?: logs.RetentionDays;
}

/** A literal JSON null in Parameters (CDK drops plain `null` values when rendering them). */
const NULL = Token.asString(JsonNull.INSTANCE);

/** Label of the distributed map; child execution names start with it. */
const CHUNK_MAP_LABEL = 'SyncChunks';

/** Lambda-side errors worth retrying: the invocation itself failed, not the handler's logic. */
const TRANSIENT_LAMBDA_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

/**
 * Errors the sync handlers throw after deciding the job cannot go on (a missing bucket, revoked
 * credentials, a storage that is not synchronizable): retrying them only delays the failure.
 * Storage SDK calls retry their own transient errors before a StorageError leaves the handler.
 */
export const PERMANENT_HANDLER_ERRORS = ['StorageError', 'ValidationError', 'NotSynchronizableError', 'NotFoundError', 'ForbiddenError', 'AuthError'];

/**
 * Retries of one idempotent step: Lambda's own invocation errors, then anything else the handler
 * threw (a DynamoDB conflict or throttle beyond the SDK's retries, a crash, a Lambda timeout is
 * `States.Timeout` and not retried), with full jitter so parallel executions do not retry in step.
 * Bounded: at most 6 + 3 extra attempts, ~2.5 min of waiting in the worst case.
 * `States.DataLimitExceeded` and `States.Runtime` are not matched by these (nor by States.ALL).
 */
export function retryIdempotentStep(task: sfn.TaskStateBase): sfn.TaskStateBase {
  return task
    .addRetry({
      errors: TRANSIENT_LAMBDA_ERRORS,
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
      maxDelay: Duration.seconds(60),
      jitterStrategy: sfn.JitterType.FULL,
    })
    .addRetry({ errors: PERMANENT_HANDLER_ERRORS, maxAttempts: 0 })
    .addRetry({
      errors: [sfn.Errors.TASKS_FAILED],
      interval: Duration.seconds(3),
      maxAttempts: 3,
      backoffRate: 2,
      maxDelay: Duration.seconds(30),
      jitterStrategy: sfn.JitterType.FULL,
    });
}

/**
 * The sync job workflow (Standard). Input `{storageId, jobId, role}`; every state carries only ids,
 * the listing token, flags, counts and chunk references `{jobId, chunk}` — chunk contents live in the
 * table — so payloads stay far below the 256 KiB limit.
 *
 * ```
 * Start ─► Init ─► Loop = Parallel[ List (syncList from token, skipped once listing is done)
 *                                 | Write (DISTRIBUTED Map over $.pending → syncChunk) ]
 *        ─► Advance (pending := List.chunks, token := List.token) ─► More? ──yes──► Loop
 *                                                                    └─no──► Finalize
 * Start/Loop failures ─Catch─► Finalize with {error: {Error, Cause}}
 * ```
 * Finalize has no Catch on purpose: when it fails for good (or the execution fails with an error
 * no Catch may match: States.DataLimitExceeded, States.Runtime; or times out, or is stopped), the
 * execution ends FAILED/TIMED_OUT/ABORTED and the execution-failed rule (sync-failure-rule.ts)
 * marks the storage failed with that error.
 * Listing of step N+1 overlaps writing of step N's chunks. Lambda contracts (payloads are the task input):
 * - syncStart `{storageId, jobId, role}` → anything (ignored)
 * - syncList `{storageId, jobId, role, token: string|null}` → `{token: string|null, done: boolean, chunks: {jobId, chunk}[], listed: number}`
 * - syncChunk `{storageId, role, jobId, chunk}` → anything (discarded); records its own failures
 *
 * Limits the Lambdas must respect: the Loop's output holds two steps' `chunks` and must stay under
 * 256 KiB (past it: States.DataLimitExceeded, which no Catch here matches), so a listing step
 * returns at most MAX_CHUNK_REFS_PER_STEP refs (shared/sync/list-step-limit.ts), and each loop iteration costs ~25 history events of the 25,000 a Standard execution may
 * have, so a listing step should cover many pages (time-box it near the Lambda timeout), not one.
 * - syncFinalize `{storageId, jobId, role, listed: number, error: {Error, Cause}|null}` → anything
 */
export class SyncStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: SyncStateMachineProps) {
    super(scope, id);
    const { syncStart, syncList, syncChunk, syncFinalize } = props.functions;
    const ids = {
      'storageId.$': '$.storageId',
      'jobId.$': '$.jobId',
      'role.$': '$.role',
    };

    // Every step is idempotent (Start re-reads the job, listing steps rewrite the same chunk
    // numbers, counters are exactly-once per step/chunk, Finalize is conditional), so all retry.
    const invoke = (stateId: string, fn: lambda.IFunction, payload: Record<string, unknown>, resultPath: string | undefined) =>
      retryIdempotentStep(
        new tasks.LambdaInvoke(this, stateId, {
          lambdaFunction: fn,
          payload: sfn.TaskInput.fromObject(payload),
          payloadResponseOnly: true,
          // Replaced by the explicit, jittered retries (which also cover throttling).
          retryOnServiceExceptions: false,
          resultPath,
        }),
      );

    const finalize = invoke(
      'Finalize',
      syncFinalize,
      { ...ids, 'listed.$': '$.listed', 'error.$': '$.error' },
      sfn.JsonPath.DISCARD,
    );
    // Failures before Init have no counters yet: give Finalize the same shape.
    const recordStartFailure = new sfn.Pass(this, 'StartFailed', {
      parameters: { ...ids, listed: 0, 'error.$': '$.error' },
    });
    recordStartFailure.next(finalize);

    const start = invoke('Start', syncStart, ids, sfn.JsonPath.DISCARD).addCatch(recordStartFailure, {
      errors: [sfn.Errors.ALL],
      resultPath: '$.error',
    });

    const init = new sfn.Pass(this, 'Init', {
      parameters: { ...ids, token: NULL, done: false, pending: [], listed: 0, error: NULL },
    });

    // Branch 1: the next listing step (nothing to do once the lister reported done).
    // No resultPath: the step's result replaces the branch state (the ASL default).
    const list = invoke('ListStep', syncList, { ...ids, 'token.$': '$.token' }, undefined);
    const nothingToList = new sfn.Pass(this, 'NothingToList', {
      parameters: { token: NULL, done: true, chunks: [], listed: 0 },
    });
    const listBranch = new sfn.Choice(this, 'ListingDone?')
      .when(sfn.Condition.booleanEquals('$.done', true), nothingToList)
      .otherwise(list);

    // Branch 2: write the chunks the previous listing step produced.
    // syncChunk records per-object problems itself and only throws for infrastructure errors
    // (a DynamoDB timeout, throttling beyond the SDK's retries).
    const writeChunk = retryIdempotentStep(
      new tasks.LambdaInvoke(this, 'WriteChunk', {
        lambdaFunction: syncChunk,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        resultPath: sfn.JsonPath.DISCARD,
        // The map collects every child's output in memory (no ResultWriter): keep each one a number.
        outputPath: '$.chunk',
      }),
    );
    const writeBranch = new sfn.DistributedMap(this, 'Write', {
      itemsPath: '$.pending',
      itemSelector: {
        'storageId.$': '$.storageId',
        'role.$': '$.role',
        'jobId.$': '$$.Map.Item.Value.jobId',
        'chunk.$': '$$.Map.Item.Value.chunk',
      },
      maxConcurrency: props.maxConcurrency,
      // STANDARD children: syncChunk may run its full 300 s timeout, which is exactly the Express
      // 5-minute cap, so any retry would kill an Express child; Standard children are also
      // exactly-once. At ~1,000 objects a chunk that is ~3 transitions per 1,000 objects (cents per 10M).
      mapExecutionType: sfn.StateMachineType.STANDARD,
      // The chunk Lambda records its own failures on the job; a failed chunk must not stop the sync.
      toleratedFailurePercentage: 100,
      label: CHUNK_MAP_LABEL,
      // Branch output stays tiny (not the whole state again), so the Parallel's raw output is about
      // the size of one listing result: step size is bounded by the 256 KiB payload limit.
      resultSelector: { 'written.$': 'States.ArrayLength($)' },
    });
    writeBranch.itemProcessor(writeChunk);

    const loop = new sfn.Parallel(this, 'Loop', {
      resultSelector: { 'list.$': '$[0]' },
      resultPath: '$.step',
    });
    loop.branch(listBranch);
    loop.branch(writeBranch);

    const advance = new sfn.Pass(this, 'Advance', {
      parameters: {
        ...ids,
        'token.$': '$.step.list.token',
        'done.$': '$.step.list.done',
        'pending.$': '$.step.list.chunks',
        'listed.$': 'States.MathAdd($.listed, $.step.list.listed)',
        error: NULL,
      },
    });

    const more = new sfn.Choice(this, 'More?')
      .when(
        sfn.Condition.or(sfn.Condition.booleanEquals('$.done', false), sfn.Condition.isPresent('$.pending[0]')),
        loop,
      )
      .otherwise(finalize);

    loop.addCatch(finalize, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const definition = start.next(init).next(loop).next(advance).next(more);

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: 'labelsync sync job: list and write chunks in overlapping steps, then finalize',
    });
    const role = this.stateMachine.role;
    acknowledgeWildcardResources(
      this,
      [syncStart, syncList, syncChunk, syncFinalize].map((f) => `${f.functionArn}:*`),
      'Generated by LambdaInvoke: "<function ARN>:*" covers versions/aliases of these four functions only.',
    );
    acknowledgeWildcardResources(
      role,
      ['*'],
      'CloudWatch Logs delivery (CreateLogDelivery etc.) and X-Ray actions support no resource-level permissions.',
    );
    acknowledgeWildcardResources(
      this,
      [executionsArn(this.stateMachine, ':*'), executionsArn(this.stateMachine, `/${CHUNK_MAP_LABEL}:*`)],
      'Generated by DistributedMap: describe/stop/redrive of this state machine\'s own child executions, whose names are generated at run time.',
    );
  }
}
