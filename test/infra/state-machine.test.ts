import aslValidator from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAILED_EXECUTION_STATUSES } from '../../lib/constructs/sync-failure-rule';
import { PERMANENT_HANDLER_ERRORS } from '../../lib/constructs/sync-state-machine';
import { lambdaId, ofType, stateMachineDefinition, synth, type Synthesized } from './synth';

let s: Synthesized;
let asl: any;
beforeAll(() => {
  s = synth();
  asl = stateMachineDefinition(s.resources);
});

const fnArn = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;
const TRANSIENT = ['Lambda.ServiceException', 'Lambda.TooManyRequestsException'];

/** Every state, including those inside Parallel branches and Map item processors. */
function allStates(def: any, into: Record<string, any> = {}): Record<string, any> {
  for (const [name, st] of Object.entries<any>(def.States)) {
    into[name] = st;
    for (const b of st.Branches ?? []) allStates(b, into);
    if (st.ItemProcessor) allStates(st.ItemProcessor, into);
  }
  return into;
}

describe('sync state machine: resource', () => {
  it('is one Standard workflow with full logging (no execution data) and X-Ray tracing', () => {
    const sms = ofType(s.resources, 'AWS::StepFunctions::StateMachine');
    expect(sms).toHaveLength(1);
    const p = sms[0][1].Properties;
    expect(p.StateMachineType).toBe('STANDARD');
    expect(p.LoggingConfiguration.Level).toBe('ALL');
    expect(p.LoggingConfiguration.IncludeExecutionData).toBe(false);
    expect(p.TracingConfiguration).toEqual({ Enabled: true });
    s.template.hasOutput('StateMachineArn', {});
  });

  it('is valid ASL according to asl-validator (ARNs and paths checked)', () => {
    const { isValid, errorsText } = aslValidator(structuredClone(asl), { checkArn: true, checkPaths: true });
    expect(errorsText('\n')).toBe('');
    expect(isValid).toBe(true);
  });

  it('is written in JSONPath (the local interpreter has no JSONata)', () => {
    expect(asl.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    for (const st of Object.values<any>(allStates(asl))) expect(st.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });
});

describe('sync state machine: shape', () => {
  it('starts with syncStart, then initialises the loop state', () => {
    expect(asl.StartAt).toBe('Start');
    const start = asl.States.Start;
    expect(start).toMatchObject({ Type: 'Task', Resource: fnArn('syncStart'), Next: 'Init', ResultPath: null });
    expect(asl.States.Init).toMatchObject({
      Type: 'Pass',
      Parameters: { token: null, done: false, pending: [], listed: 0, error: null },
      Next: 'Loop',
    });
  });

  it('loops a Parallel of [listing step, distributed write of the previous chunks]', () => {
    const loop = asl.States.Loop;
    expect(loop.Type).toBe('Parallel');
    expect(loop.Branches).toHaveLength(2);
    const [list, write] = loop.Branches;
    const listStates = Object.values<any>(list.States);
    expect(listStates.filter((st) => st.Type === 'Task').map((st) => st.Resource)).toEqual([fnArn('syncList')]);
    const listTask = listStates.find((st) => st.Type === 'Task');
    expect(listTask.Parameters).toEqual({ 'storageId.$': '$.storageId', 'jobId.$': '$.jobId', 'role.$': '$.role', 'token.$': '$.token' });

    const map = write.States[write.StartAt];
    expect(map.Type).toBe('Map');
    expect(map.ItemProcessor.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    expect(['STANDARD', 'EXPRESS']).toContain(map.ItemProcessor.ProcessorConfig.ExecutionType);
    expect(map.MaxConcurrency).toBe(8);
    expect(map.ItemsPath).toBe('$.pending');
    expect(map.ToleratedFailurePercentage).toBe(100);
    // The branch output is a count, not the state again (payload limit of the Parallel's output).
    expect(map.ResultSelector).toEqual({ 'written.$': 'States.ArrayLength($)' });
    const chunk = map.ItemProcessor.States[map.ItemProcessor.StartAt];
    expect(chunk).toMatchObject({ Type: 'Task', Resource: fnArn('syncChunk'), ResultPath: null, OutputPath: '$.chunk' });
    expect(map.ItemSelector).toMatchObject({ 'jobId.$': '$$.Map.Item.Value.jobId', 'chunk.$': '$$.Map.Item.Value.chunk' });
  });

  it('takes MaxConcurrency from the syncConcurrency context', () => {
    const t = synth({ syncConcurrency: 40 });
    const map = Object.values<any>(allStates(stateMachineDefinition(t.resources))).find((st) => st.Type === 'Map');
    expect(map.MaxConcurrency).toBe(40);
  });

  it('moves the listing result into the next iteration and loops while listing or pending chunks remain', () => {
    expect(asl.States.Loop.ResultSelector).toEqual({ 'list.$': '$[0]' });
    expect(asl.States.Loop.Next).toBe('Advance');
    expect(asl.States.Advance.Parameters).toMatchObject({
      'token.$': '$.step.list.token',
      'done.$': '$.step.list.done',
      'pending.$': '$.step.list.chunks',
    });
    const more = asl.States[asl.States.Advance.Next];
    expect(more.Type).toBe('Choice');
    expect(more.Default).toBe('Finalize');
    expect(more.Choices).toHaveLength(1);
    expect(more.Choices[0].Next).toBe('Loop');
    expect(more.Choices[0].Or).toEqual(
      expect.arrayContaining([
        { Variable: '$.done', BooleanEquals: false },
        { Variable: '$.pending[0]', IsPresent: true },
      ]),
    );
  });

  it('catches any failure of the loop or of Start and still runs syncFinalize with the error', () => {
    expect(asl.States.Loop.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Finalize' }]);
    expect(asl.States.Start.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'StartFailed' }]);
    expect(asl.States.StartFailed.Next).toBe('Finalize');
    const fin = asl.States.Finalize;
    expect(fin).toMatchObject({ Type: 'Task', Resource: fnArn('syncFinalize'), End: true });
    expect(fin.Parameters).toMatchObject({ 'error.$': '$.error', 'jobId.$': '$.jobId', 'storageId.$': '$.storageId' });
  });

  it('retries every Lambda task on service errors and throttling with bounded, jittered backoff', () => {
    const tasks = Object.values<any>(allStates(asl)).filter((st) => st.Type === 'Task');
    expect(tasks).toHaveLength(4);
    for (const t of tasks) {
      const retry = t.Retry.find((r: any) => TRANSIENT.every((e) => r.ErrorEquals.includes(e)));
      expect(retry).toBeDefined();
      expect(retry.MaxAttempts).toBeGreaterThan(1);
      expect(retry.MaxAttempts).toBeLessThanOrEqual(10);
      expect(retry.BackoffRate).toBeGreaterThan(1);
      expect(retry.ErrorEquals).not.toContain('States.ALL');
    }
  });

  it('keeps state small: no task passes the whole state or a list of keys to a Lambda', () => {
    const tasks = Object.values<any>(allStates(asl)).filter((st) => st.Type === 'Task');
    for (const t of tasks) {
      if (t.Resource === fnArn('syncChunk')) continue; // gets the Map item ({storageId, role, jobId, chunk})
      expect(t.Parameters, t.Resource).toBeDefined();
      expect(Object.values(t.Parameters)).not.toContain('$');
    }
  });

  it('retries every step (all idempotent) on any task failure, bounded and jittered, after the permanent errors', () => {
    const tasks = allStates(asl);
    for (const name of ['Start', 'ListStep', 'WriteChunk', 'Finalize']) {
      const retry: any[] = tasks[name].Retry;
      const i = retry.findIndex((r) => r.ErrorEquals.includes('States.TaskFailed'));
      expect(i, name).toBeGreaterThan(0);
      expect(retry[i]).toMatchObject({ JitterStrategy: 'FULL' });
      expect(retry[i].MaxAttempts).toBeGreaterThanOrEqual(2);
      expect(retry[i].MaxAttempts).toBeLessThanOrEqual(5);
      expect(retry[i].BackoffRate).toBeGreaterThan(1);
      expect(retry[i].MaxDelaySeconds).toBeLessThanOrEqual(60);
      // Handler errors that mean "this job cannot go on" fail at once (a retrier with 0 attempts matches first).
      const permanent = retry.findIndex((r) => r.ErrorEquals.includes('StorageError'));
      expect(permanent, name).toBeLessThan(i);
      expect(retry[permanent]).toMatchObject({ ErrorEquals: PERMANENT_HANDLER_ERRORS, MaxAttempts: 0 });
    }
  });

  it('lets a failed Finalize fail the execution (no Catch swallows it: the execution-failed rule finalizes)', () => {
    expect(asl.States.Finalize.Catch).toBeUndefined();
    expect(asl.States.Finalize.End).toBe(true);
  });
});

describe('sync state machine: execution-failed rule', () => {
  it('sends FAILED / TIMED_OUT / ABORTED executions of the sync machine to syncExecutionFailed, with retries and a DLQ', () => {
    const rules = ofType(s.resources, 'AWS::Events::Rule');
    const [smId] = ofType(s.resources, 'AWS::StepFunctions::StateMachine')[0];
    const rule = rules.find(([, r]) => r.Properties.EventPattern?.source?.includes('aws.states'));
    expect(rule).toBeDefined();
    const p = rule![1].Properties;
    expect(p.State ?? 'ENABLED').toBe('ENABLED');
    expect(p.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: smId }] },
    });
    expect(FAILED_EXECUTION_STATUSES).toEqual(['FAILED', 'TIMED_OUT', 'ABORTED']);
    const fnId = lambdaId(s.resources, 'syncExecutionFailed');
    expect(p.Targets).toHaveLength(1);
    expect(p.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
    expect(p.Targets[0].RetryPolicy).toMatchObject({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 });
    expect(p.Targets[0].DeadLetterConfig?.Arn).toBeDefined();
    // EventBridge may invoke the finalizer (resource policy on the function, scoped to the rule).
    const perms = ofType(s.resources, 'AWS::Lambda::Permission').map(([, r]) => r.Properties);
    expect(perms).toContainEqual(expect.objectContaining({ Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] }, SourceArn: { 'Fn::GetAtt': [rule![0], 'Arn'] } }));
  });
});
