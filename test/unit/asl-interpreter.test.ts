/**
 * The local ASL interpreter against Step Functions' documented semantics: paths and payload
 * templates, intrinsics, Choice rules, Retry/Catch (terminal errors, TaskFailed, backoff bounds),
 * Parallel and Map (concurrency, tolerated failures), timeouts, aborts and the payload limit.
 */
import { describe, expect, it } from 'vitest';
import { evaluateRule } from '../../local/asl/choice';
import { callIntrinsic } from '../../local/asl/intrinsics';
import { backoffMs, runExecution, StatesError, type Json, type RunOptions, type StateMachineDefinition } from '../../local/asl/interpreter';
import { applyTemplate, hasPath, readPath, writeResult } from '../../local/asl/paths';

const context = { Execution: { Id: 'exec', Name: 'exec' }, StateMachine: { Id: 'sm', Name: 'sm' } };

function run(def: StateMachineDefinition, input: Json, tasks: Record<string, (input: any) => Promise<unknown>> = {}, extra: Partial<RunOptions> = {}) {
  const events: string[] = [];
  const result = runExecution(def, input, {
    invokeTask: (state, _r, i) => tasks[state](i),
    context,
    onEvent: (e) => events.push(`${e.type}:${e.state}${e.error ? `:${e.error}` : ''}`),
    ...extra,
  });
  return { result, events };
}

const failWith = (name: string, message = 'boom') => Object.assign(new Error(message), { name });

describe('paths and payload templates', () => {
  const input = { a: { b: [10, { c: 'x' }] }, 'odd key': 1 };
  it('reads reference paths, tells present from absent, and names the missing path', () => {
    expect(readPath('$.a.b[1].c', input, {})).toBe('x');
    expect(readPath("$['odd key']", input, {})).toBe(1);
    expect(readPath('$$.Map.Item.Value', {}, { Map: { Item: { Value: 7 } } })).toBe(7);
    expect(hasPath('$.a.b[2]', input, {})).toBe(false);
    expect(hasPath('$.a.b[0]', input, {})).toBe(true);
    expect(() => readPath('$.nope', input, {}, 'x.$')).toThrow(StatesError);
    expect(() => readPath('$..c', input, {})).toThrow(/Unsupported JSONPath/);
  });

  it('writes ResultPath on a copy: absent replaces, null discards, a path creates what it needs', () => {
    const orig = { keep: 1 };
    expect(writeResult(undefined, orig, 5)).toBe(5);
    expect(writeResult(null, orig, 5)).toEqual({ keep: 1 });
    expect(writeResult('$.x.y', orig, 5)).toEqual({ keep: 1, x: { y: 5 } });
    expect(orig).toEqual({ keep: 1 });
    expect(() => writeResult('$.x', 3, 5)).toThrow(StatesError);
  });

  it('evaluates `.$` fields with paths and intrinsics, nested in objects and arrays', () => {
    const out = applyTemplate({ 'n.$': 'States.MathAdd($.n, 2)', list: [{ 'v.$': '$.s' }], 'len.$': 'States.ArrayLength($.arr)', plain: 'a.$b' }, { n: 3, s: 'q', arr: [1, 2, 3] }, {});
    expect(out).toEqual({ n: 5, list: [{ v: 'q' }], len: 3, plain: 'a.$b' });
  });

  it('intrinsics: Format with escapes, StringToJson, JsonToString, Array, ArrayGetItem, nested calls', () => {
    const read = (p: string) => readPath(p, { name: "o'k", obj: { a: 1 }, arr: [4, 5] }, {});
    expect(callIntrinsic("States.Format('hi {} \\'{}\\'', $.name, $.obj)", read)).toBe(`hi o'k '{"a":1}'`);
    expect(callIntrinsic("States.StringToJson('{\"b\":2}')", read)).toEqual({ b: 2 });
    expect(callIntrinsic('States.JsonToString($.obj)', read)).toBe('{"a":1}');
    expect(callIntrinsic('States.Array(1, true, null, $.arr)', read)).toEqual([1, true, null, [4, 5]]);
    expect(callIntrinsic('States.ArrayGetItem($.arr, States.MathAdd(0, 1))', read)).toBe(5);
    expect(() => callIntrinsic('States.Nope(1)', read)).toThrow(/not supported/);
    expect(() => callIntrinsic('States.MathAdd($.name, 1)', read)).toThrow(/numbers/);
  });
});

describe('Choice rules', () => {
  const input = { done: false, n: 4, s: 'abc', list: [1], t: '2026-01-01T00:00:00Z', other: 4 };
  const ok = (rule: Record<string, unknown>) => evaluateRule(rule, input, {});
  it('compares by type, with Path variants, and combines with And/Or/Not', () => {
    expect(ok({ Variable: '$.done', BooleanEquals: false })).toBe(true);
    expect(ok({ Variable: '$.n', NumericGreaterThan: 3 })).toBe(true);
    expect(ok({ Variable: '$.n', NumericEqualsPath: '$.other' })).toBe(true);
    expect(ok({ Variable: '$.s', NumericEquals: 4 })).toBe(false);
    expect(ok({ Variable: '$.s', StringMatches: 'a*c' })).toBe(true);
    expect(ok({ Variable: '$.t', TimestampLessThan: '2027-01-01T00:00:00Z' })).toBe(true);
    expect(ok({ Or: [{ Variable: '$.done', BooleanEquals: true }, { Variable: '$.list[0]', IsPresent: true }] })).toBe(true);
    expect(ok({ And: [{ Variable: '$.n', IsNumeric: true }, { Not: { Variable: '$.s', IsNull: false } }] })).toBe(false);
  });

  it('a missing Variable is a States.Runtime error except under IsPresent', () => {
    expect(ok({ Variable: '$.list[3]', IsPresent: false })).toBe(true);
    expect(() => ok({ Variable: '$.missing', BooleanEquals: true })).toThrow(expect.objectContaining({ name: 'States.Runtime' }));
  });
});

describe('Retry and Catch', () => {
  const task = (extra: Record<string, unknown>): StateMachineDefinition => ({ StartAt: 'T', States: { T: { Type: 'Task', Resource: 'r', End: true, ...extra }, Caught: { Type: 'Pass', End: true } } });

  it('retries the first matching retrier up to MaxAttempts, then catches with {Error, Cause} at ResultPath', async () => {
    let calls = 0;
    const def = task({
      Retry: [{ ErrorEquals: ['Permanent'], MaxAttempts: 0 }, { ErrorEquals: ['States.TaskFailed'], MaxAttempts: 2, IntervalSeconds: 1 }],
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught', ResultPath: '$.error' }],
      End: undefined,
      Next: 'Caught',
    });
    const { result, events } = run(def, { in: 1 }, { T: async () => { calls++; throw failWith('Flaky'); } }, { retryIntervalOverrides: { T: 1 } });
    expect(await result).toEqual({ in: 1, error: { Error: 'Flaky', Cause: 'boom' } });
    expect(calls).toBe(3);
    expect(events.filter((e) => e.startsWith('StateRetried'))).toHaveLength(2);
    calls = 0;
    const permanent = run(def, {}, { T: async () => { calls++; throw failWith('Permanent'); } }, { retryIntervalOverrides: { T: 1 } });
    expect(await permanent.result).toEqual({ error: { Error: 'Permanent', Cause: 'boom' } });
    expect(calls).toBe(1);
  });

  it('backoff: IntervalSeconds × BackoffRate^n capped by MaxDelaySeconds; full jitter draws between 0 and that', () => {
    const r = { ErrorEquals: ['States.ALL'], IntervalSeconds: 1, BackoffRate: 3, MaxDelaySeconds: 5 };
    expect([1, 2, 3, 4].map((n) => backoffMs(r, n))).toEqual([1000, 3000, 5000, 5000]);
    expect(backoffMs({ ErrorEquals: ['E'] }, 2)).toBe(2000); // defaults: 1 s, rate 2
    const bounds: number[] = [];
    const jittered = { ...r, JitterStrategy: 'FULL' as const };
    expect(backoffMs(jittered, 3, (max) => (bounds.push(max), 0))).toBe(0);
    expect(backoffMs(jittered, 2, (max) => (bounds.push(max), max))).toBe(3000);
    expect(bounds).toEqual([5000, 3000]);
    const draws = Array.from({ length: 200 }, () => backoffMs(jittered, 2));
    expect(draws.every((d) => Number.isInteger(d) && d >= 0 && d <= 3000)).toBe(true);
    expect(new Set(draws).size).toBeGreaterThan(100);
  });

  it('States.DataLimitExceeded and States.Runtime pass States.ALL and States.TaskFailed, but a Catch naming them matches', async () => {
    const big = async () => ({ blob: 'x'.repeat(300) });
    const all = task({ Retry: [{ ErrorEquals: ['States.ALL'] }, { ErrorEquals: ['States.TaskFailed'] }], Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }] });
    let calls = 0;
    const counted = async () => { calls++; return big(); };
    await expect(run(all, {}, { T: counted }, { payloadLimit: { bytes: 100, strict: false } }).result).rejects.toMatchObject({ name: 'States.DataLimitExceeded' });
    expect(calls).toBe(1);
    const named = task({ Catch: [{ ErrorEquals: ['States.DataLimitExceeded'], Next: 'Caught', ResultPath: '$.e' }] });
    expect(await run(named, {}, { T: big }, { payloadLimit: { bytes: 100, strict: false } }).result).toMatchObject({ e: { Error: 'States.DataLimitExceeded' } });
    const runtime: StateMachineDefinition = { StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'x.$': '$.missing' }, End: true, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'P' }] } } };
    await expect(run(runtime, {}).result).rejects.toMatchObject({ name: 'States.Runtime' });
  });

  it('TimeoutSeconds fails a Task with States.Timeout, which States.TaskFailed does not match', async () => {
    const def = task({ TimeoutSeconds: 0.05, Retry: [{ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 3 }] });
    let calls = 0;
    const slow = () => { calls++; return new Promise((r) => setTimeout(r, 2_000)); };
    await expect(run(def, {}, { T: slow }).result).rejects.toMatchObject({ name: 'States.Timeout' });
    expect(calls).toBe(1);
  });

  it('strict payload checks: a Task input after Parameters and any state output over the limit fail the execution', async () => {
    const strict = { payloadLimit: { bytes: 100, strict: true } };
    const input: StateMachineDefinition = { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'r', Parameters: { 'a.$': '$.s', 'b.$': '$.s' }, End: true } } };
    let called = false;
    await expect(run(input, { s: 'y'.repeat(60) }, { T: async () => { called = true; return {}; } }, strict).result).rejects.toMatchObject({ name: 'States.DataLimitExceeded', message: expect.stringContaining('input') });
    expect(called).toBe(false);
    const pass: StateMachineDefinition = { StartAt: 'P', States: { P: { Type: 'Pass', Result: { s: 'z'.repeat(200) }, End: true } } };
    await expect(run(pass, {}, {}, strict).result).rejects.toMatchObject({ name: 'States.DataLimitExceeded' });
    expect(await run(pass, {}).result).toEqual({ s: 'z'.repeat(200) });
  });
});

describe('Parallel, Map, Fail and abort', () => {
  it('Parallel gives branch outputs in order and a failing branch stops its siblings', async () => {
    const def: StateMachineDefinition = {
      StartAt: 'Par',
      States: {
        Par: {
          Type: 'Parallel',
          ResultSelector: { 'first.$': '$[0]' },
          ResultPath: '$.r',
          End: true,
          Branches: [
            { StartAt: 'A', States: { A: { Type: 'Task', Resource: 'r', End: true } } },
            { StartAt: 'B', States: { B: { Type: 'Pass', Result: 2, End: true } } },
          ],
        },
      },
    };
    expect(await run(def, { k: 1 }, { A: async (i) => ({ got: i.k }) }).result).toEqual({ k: 1, r: { first: { got: 1 } } });
    let secondRan = false;
    const failing: StateMachineDefinition = {
      StartAt: 'Par',
      States: {
        Par: {
          Type: 'Parallel',
          End: true,
          Branches: [
            { StartAt: 'A', States: { A: { Type: 'Task', Resource: 'r', End: true } } },
            { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 1, Next: 'C' }, C: { Type: 'Task', Resource: 'r', End: true } } },
          ],
        },
      },
    };
    await expect(run(failing, {}, { A: async () => { throw failWith('Broken'); }, C: async () => { secondRan = true; } }).result).rejects.toMatchObject({ name: 'Broken' });
    await new Promise((r) => setTimeout(r, 1_200));
    expect(secondRan).toBe(false);
  });

  it('Map: ItemSelector sees $$.Map.Item, MaxConcurrency bounds the running items, results keep their order', async () => {
    let running = 0;
    let peak = 0;
    const def: StateMachineDefinition = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemsPath: '$.items',
          MaxConcurrency: 2,
          ItemSelector: { 'v.$': '$$.Map.Item.Value', 'i.$': '$$.Map.Item.Index', 'tag.$': '$.tag' },
          ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: 'T', States: { T: { Type: 'Task', Resource: 'r', End: true } } },
          End: true,
        },
      },
    };
    const work = async (i: any) => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return `${i.tag}${i.v}@${i.i}`;
    };
    expect(await run(def, { tag: 't', items: ['a', 'b', 'c', 'd', 'e'] }, { T: work }).result).toEqual(['ta@0', 'tb@1', 'tc@2', 'td@3', 'te@4']);
    expect(peak).toBe(2);
  });

  it('40 concurrent Map items on one execution signal raise no listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const def: StateMachineDefinition = {
        StartAt: 'M',
        States: { M: { Type: 'Map', ItemsPath: '$', MaxConcurrency: 40, ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' }, StartAt: 'T', States: { T: { Type: 'Task', Resource: 'r', End: true } } }, End: true } },
      };
      const slow = async (i: number) => new Promise((r) => setTimeout(() => r(i), 10));
      expect(await run(def, Array.from({ length: 50 }, (_, i) => i), { T: slow }, { signal: new AbortController().signal }).result).toHaveLength(50);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('a DISTRIBUTED Map counts failed items against its tolerance; past it the Map fails', async () => {
    const def = (pct: number): StateMachineDefinition => ({
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemsPath: '$',
          ToleratedFailurePercentage: pct,
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'T', States: { T: { Type: 'Task', Resource: 'r', End: true } } },
          End: true,
        },
      },
    });
    const odd = async (i: number) => {
      if (i % 2) throw failWith('Odd', `item ${i}`);
      return i;
    };
    expect(await run(def(100), [0, 1, 2, 3], { T: odd }).result).toEqual([0, { Error: 'Odd', Cause: 'item 1' }, 2, { Error: 'Odd', Cause: 'item 3' }]);
    expect(await run(def(50), [0, 1, 2, 3], { T: odd }).result).toHaveLength(4);
    await expect(run(def(25), [0, 1, 2, 3], { T: odd }).result).rejects.toMatchObject({ name: 'States.ExceedToleratedFailureThreshold' });
    await expect(run(def(0), [0, 1], { T: odd }).result).rejects.toMatchObject({ name: 'States.ExceedToleratedFailureThreshold' });
  });

  it('Fail ends with its Error and Cause; Choice without a match or Default fails with States.NoChoiceMatched', async () => {
    await expect(run({ StartAt: 'F', States: { F: { Type: 'Fail', Error: 'Mine', Cause: 'why' } } }, {}).result).rejects.toMatchObject({ name: 'Mine', message: 'why' });
    const choice: StateMachineDefinition = { StartAt: 'C', States: { C: { Type: 'Choice', Choices: [{ Variable: '$.x', NumericEquals: 1, Next: 'D' }] }, D: { Type: 'Succeed' } } };
    expect(await run(choice, { x: 1 }).result).toEqual({ x: 1 });
    await expect(run(choice, { x: 2 }).result).rejects.toMatchObject({ name: 'States.NoChoiceMatched' });
  });

  it('an abort ends a running execution with ExecutionAbortedError, which no Catch sees', async () => {
    const controller = new AbortController();
    const def: StateMachineDefinition = { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 30, End: true, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'W' }] } } };
    const { result } = run(def, {}, {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    await expect(result).rejects.toMatchObject({ name: 'ExecutionAbortedError' });
  });
});
