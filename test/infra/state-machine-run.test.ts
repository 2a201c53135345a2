/**
 * Runs the synthesized sync definition with the local ASL interpreter and stub Lambdas, to check the
 * data flow the shape tests cannot: nulls reach the lister, chunk refs of step N are written while
 * step N+1 lists, the loop ends only when listing is done and nothing is pending, and every path
 * ends in syncFinalize. Stubs stand in for the sync engineer's handlers on purpose: this tests the
 * wiring of the construct, not the handlers (their end-to-end runs are in test/integration).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runExecution, type Json, type StateMachineDefinition } from '../../local/asl/interpreter';
import { stateMachineDefinition, synth } from './synth';

let definition: StateMachineDefinition;
beforeAll(() => {
  definition = structuredClone(stateMachineDefinition(synth().resources));
});

type Calls = { fn: string; input: any }[];

function run(listSteps: { token: string | null; done: boolean; chunks: { jobId: string; chunk: number }[]; listed: number }[], opts: { failListAt?: number } = {}) {
  const calls: Calls = [];
  let step = 0;
  const record = (fn: string) => async (input: any): Promise<Json> => {
    calls.push({ fn, input });
    if (fn === 'syncList') {
      if (opts.failListAt === step) throw Object.assign(new Error('bucket vanished'), { name: 'StorageError' });
      return listSteps[step++];
    }
    return fn === 'syncChunk' ? { written: 1 } : { ok: true };
  };
  const handlers: Record<string, (input: any) => Promise<Json>> = {
    Start: record('syncStart'),
    ListStep: record('syncList'),
    WriteChunk: record('syncChunk'),
    Finalize: record('syncFinalize'),
  };
  const result = runExecution(definition, { storageId: 's-1', jobId: 'j-1', role: 'import' }, {
    invokeTask: (state, _resource, input) => handlers[state](input),
    context: { Execution: { Id: 'exec-1', Name: 'exec-1' }, StateMachine: { Id: 'sm', Name: 'sm' } },
  });
  return { calls, result };
}

describe('sync state machine: execution with stub Lambdas', () => {
  it('lists until done, writes every chunk once, then finalizes with the total and no error', async () => {
    const c = (chunk: number) => ({ jobId: 'j-1', chunk });
    const { calls, result } = run([
      { token: 't1', done: false, chunks: [c(0), c(1)], listed: 2000 },
      { token: 't2', done: false, chunks: [c(2)], listed: 1000 },
      { token: null, done: true, chunks: [c(3), c(4)], listed: 1500 },
    ]);
    await result;
    expect(calls[0]).toEqual({ fn: 'syncStart', input: { storageId: 's-1', jobId: 'j-1', role: 'import' } });
    const lists = calls.filter((x) => x.fn === 'syncList').map((x) => x.input);
    expect(lists).toEqual([
      { storageId: 's-1', jobId: 'j-1', role: 'import', token: null },
      { storageId: 's-1', jobId: 'j-1', role: 'import', token: 't1' },
      { storageId: 's-1', jobId: 'j-1', role: 'import', token: 't2' },
    ]);
    const chunks = calls.filter((x) => x.fn === 'syncChunk').map((x) => x.input);
    expect(chunks.map((x) => x.chunk).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(chunks[0]).toEqual({ storageId: 's-1', role: 'import', jobId: 'j-1', chunk: expect.any(Number) });
    // Chunks of the last listing step are written in an extra iteration that lists nothing.
    const fin = calls.filter((x) => x.fn === 'syncFinalize');
    expect(fin).toHaveLength(1);
    expect(fin[0].input).toEqual({ storageId: 's-1', jobId: 'j-1', role: 'import', listed: 4500, error: null });
    expect(calls[calls.length - 1].fn).toBe('syncFinalize');
  });

  it('writes the chunks of step N only after step N listed them (never before)', async () => {
    const order: string[] = [];
    const c = (chunk: number) => ({ jobId: 'j-1', chunk });
    const { calls, result } = run([
      { token: 't1', done: false, chunks: [c(0)], listed: 1 },
      { token: null, done: true, chunks: [c(1)], listed: 1 },
    ]);
    await result;
    for (const x of calls) order.push(x.fn === 'syncChunk' ? `chunk${x.input.chunk}` : x.fn);
    expect(order.indexOf('chunk0')).toBeGreaterThan(order.indexOf('syncList'));
    expect(order.indexOf('chunk1')).toBeGreaterThan(order.lastIndexOf('syncList'));
  });

  it('an empty storage lists once and finalizes without writing', async () => {
    const { calls, result } = run([{ token: null, done: true, chunks: [], listed: 0 }]);
    await result;
    expect(calls.map((x) => x.fn)).toEqual(['syncStart', 'syncList', 'syncFinalize']);
    expect(calls[2].input).toMatchObject({ listed: 0, error: null });
  });

  it('a failing listing step still ends in syncFinalize, with the error and the count so far', async () => {
    const { calls, result } = run([{ token: 't1', done: false, chunks: [{ jobId: 'j-1', chunk: 0 }], listed: 10 }], { failListAt: 1 });
    await result;
    const fin = calls.filter((x) => x.fn === 'syncFinalize');
    expect(fin).toHaveLength(1);
    expect(fin[0].input).toMatchObject({ storageId: 's-1', jobId: 'j-1', role: 'import', listed: 10 });
    expect(fin[0].input.error.Error).toBe('StorageError');
    expect(fin[0].input.error.Cause).toContain('bucket vanished');
  });
});
