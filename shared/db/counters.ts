/**
 * Integer id counters (`COUNTER#<name>` items, atomic ADD). Label Studio clients expect integer
 * ids; counters are global per kind (`project`, `task`, `annotation`, `storage`, `user`), so an
 * id alone identifies an item. Bulk paths reserve a block with one call.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from './keys';
import type { Db } from './repo-common';

/**
 * Reserves `n` consecutive ids and returns the first; the block is `[first, first + n)`.
 * Ids are never reused, even when the caller later fails (gaps are fine).
 * @throws Error when n is not a positive integer
 */
export async function reserveIds(db: Db, name: string, n: number): Promise<number> {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`reserveIds: n must be a positive integer, got ${n}`);
  const res = await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: keys.counter(name),
      UpdateExpression: 'ADD #v :n SET kind = :kind',
      ExpressionAttributeNames: { '#v': 'value' },
      ExpressionAttributeValues: { ':n': n, ':kind': 'counter' },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const last = Number(res.Attributes?.value);
  return last - n + 1;
}

/** The next id of a counter (first id is 1). */
export function nextId(db: Db, name: string): Promise<number> {
  return reserveIds(db, name, 1);
}
