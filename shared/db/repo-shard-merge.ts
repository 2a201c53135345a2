/**
 * K-way merge of the 16 shard partitions of a project (tasks on gsi1, annotations on gsi2) into
 * one id-ordered stream. Each shard is queried in id order starting after a given id, lazily and
 * in small pages, so a page of N items reads about N/16 items per shard; the cursor of the merged
 * stream is simply the last id returned.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { pad } from './keys';
import { PROJECT_SHARDS as PROJECT_SHARDS_COUNT } from './schema';
import type { Db } from './repo-common';

export interface ShardSpec {
  index: 'gsi1' | 'gsi2';
  /** Partition key value of shard `s`. */
  partition: (shard: number) => string;
}

interface ShardState {
  buf: Record<string, unknown>[];
  startKey?: Record<string, unknown>;
  done: boolean;
}

/**
 * Returns up to `limit` items with id > `afterId` in ascending id order, plus whether more exist.
 * `projection` limits the attributes read (e.g. `['id']` to skip pages cheaply).
 */
export async function mergeShards(
  db: Db,
  spec: ShardSpec,
  opts: { afterId?: number; limit: number; projection?: string[] },
): Promise<{ items: Record<string, unknown>[]; hasMore: boolean }> {
  const skName = spec.index === 'gsi1' ? 'gsi1sk' : 'gsi2sk';
  const pkName = spec.index === 'gsi1' ? 'gsi1pk' : 'gsi2pk';
  // Items are spread evenly by id % 16, so a shard contributes about limit/16 per page.
  const perShard = Math.min(1000, Math.max(8, Math.ceil(opts.limit / PROJECT_SHARDS_COUNT) + 4));
  const shards: ShardState[] = Array.from({ length: PROJECT_SHARDS_COUNT }, () => ({ buf: [], done: false }));

  const fill = async (s: number): Promise<void> => {
    const st = shards[s];
    const projection = opts.projection ? Array.from(new Set([...opts.projection, 'id'])) : undefined;
    const res = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        IndexName: spec.index,
        KeyConditionExpression: opts.afterId ? '#pk = :pk AND #sk > :after' : '#pk = :pk',
        ExpressionAttributeNames: {
          '#pk': pkName,
          ...(opts.afterId ? { '#sk': skName } : {}),
          ...(projection ? Object.fromEntries(projection.map((p, i) => [`#p${i}`, p])) : {}),
        },
        ExpressionAttributeValues: { ':pk': spec.partition(s), ...(opts.afterId ? { ':after': pad(opts.afterId) } : {}) },
        ProjectionExpression: projection ? projection.map((_, i) => `#p${i}`).join(', ') : undefined,
        Limit: perShard,
        ExclusiveStartKey: st.startKey,
      }),
    );
    st.buf.push(...(res.Items ?? []));
    st.startKey = res.LastEvaluatedKey;
    if (!st.startKey) st.done = true;
  };

  const out: Record<string, unknown>[] = [];
  for (;;) {
    // Every shard with an empty buffer must be refilled before choosing the minimum, or order breaks.
    await Promise.all(shards.map((st, s) => (st.buf.length === 0 && !st.done ? fill(s) : undefined)));
    let best = -1;
    for (let s = 0; s < shards.length; s++) {
      const head = shards[s].buf[0];
      if (head && (best < 0 || (head.id as number) < (shards[best].buf[0].id as number))) best = s;
    }
    if (best < 0) return { items: out, hasMore: false };
    if (out.length === opts.limit) return { items: out, hasMore: true };
    out.push(shards[best].buf.shift()!);
  }
}
