/**
 * Table warm throughput (context `tableWarmWrites` / `tableWarmReads`): set on the table and on
 * every index (their writes throttle the table's too), absent by default, refused below what a new
 * on-demand table already has.
 */
import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../shared/db/schema';
import { ofType, synth } from './synth';

const tableOf = (context: Record<string, unknown>) => ofType(synth(context).resources, 'AWS::DynamoDB::Table')[0][1].Properties;

describe('data: table warm throughput', () => {
  it('is not configured by default (on-demand starts at its own warm throughput)', () => {
    const t = tableOf({});
    expect(t.WarmThroughput).toBeUndefined();
    for (const g of t.GlobalSecondaryIndexes) expect(g.WarmThroughput).toBeUndefined();
  });

  it('context tableWarmWrites / tableWarmReads warm the table and each index, still on demand', () => {
    const t = tableOf({ tableWarmWrites: '12000', tableWarmReads: 15000 });
    const warm = { WriteUnitsPerSecond: 12000, ReadUnitsPerSecond: 15000 };
    expect(t.BillingMode).toBe('PAY_PER_REQUEST');
    expect(t.WarmThroughput).toEqual(warm);
    expect(t.GlobalSecondaryIndexes.map((g: { IndexName: string; WarmThroughput: unknown }) => [g.IndexName, g.WarmThroughput])).toEqual(
      TABLE_SCHEMA.globalIndexes.map((g) => [g.name, warm]),
    );
  });

  it('a value below a new table\'s own, or not a positive integer, fails synth naming the context key', () => {
    expect(() => synth({ tableWarmWrites: 1000 })).toThrow(/tableWarmWrites must be at least 4000/);
    expect(() => synth({ tableWarmReads: 'lots' })).toThrow(/tableWarmReads must be a positive integer/);
  });
});
