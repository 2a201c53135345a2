/**
 * Links of ordered storages (S3, GCS, Azure, local files) kept as *pages*: one item holds the
 * links of every object in a key range, so a sync writes one item per chunk instead of one link
 * item per object (DynamoDB charges, and DynamoDB Local spends, per item: docs/scale.md §7).
 *
 * - A **run** is one listing of one job (`<jobId>~<epoch>`; a job listed again from its start —
 *   the local runtime resuming an interrupted execution — gets a new epoch). The chunks of one
 *   run are disjoint key ranges, so the pages of one run are too.
 * - Page `LP#<storageId>#<run>#<shard>` / `T#<to>` (`T$` for the open-ended last range): the
 *   range (`from`, `to`] and, as one JSON string, the links of every object in it. A chunk writes
 *   the complete state of its range (split into pages of at most {@link MAX_PAGE_BYTES}), so a page
 *   is authoritative for its whole range, absent keys included.
 * - The **run registry** `SUM#<storageId>` / `RUNS` lists the live runs, oldest first. Reading a
 *   range merges the runs oldest to newest: a newer run's page replaces everything older in its
 *   range. Ranges a job did not write (chunks skipped as unchanged, chunks that failed) keep the
 *   older runs' pages.
 * - Compaction: a clean job that skipped no chunk covered the whole key space, so finalize drops
 *   every older run. The start step stops trusting digests once {@link MAX_LIVE_RUNS} runs are
 *   live, which forces such a job.
 *
 * Every read is strongly consistent (base-table queries, no GSI), which the retry accounting and
 * the no-duplicate guarantee rely on.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchWrite, deletePartition, updateReturning, type Db } from './repo-common';
import { packJsonText, unpackJson } from './packed-json';
import type { LinkItem } from './repo-links';
import { compareUtf8 } from '../storage/common';

/**
 * Partitions the pages of one run are spread over (by chunk number). 10M objects make ~10k pages
 * of at most 200 KB before compression (typically 20–40 KB after): even uncompressed, half of
 * them within 30 minutes stay near 0.5 MB/s per partition key, under DynamoDB's 1,000 WCU/s.
 */
export const PAGE_SHARDS = 2;
/** Serialized links per page (DynamoDB items are at most 400 KB). */
export const MAX_PAGE_BYTES = 200_000;
/** Live runs above which the next job rewrites every range (digests not trusted) to compact them. */
export const MAX_LIVE_RUNS = 4;

const registryKey = (storageId: number) => ({ pk: `SUM#${storageId}`, sk: 'RUNS' });
const pagePk = (storageId: number, run: string, shard: number) => `LP#${storageId}#${run}#${shard}`;
const pageSk = (to: string | null) => (to === null ? 'T$' : `T#${to}`);


/** True when `key` lies in (`from`, `to`] (null bounds are open). */
export function inRange(key: string, from: string | null, to: string | null): boolean {
  return (from === null || compareUtf8(key, from) > 0) && (to === null || compareUtf8(key, to) <= 0);
}

// ---------------------------------------------------------------------------------------------
// Run registry

/** Live runs of a storage, oldest first (strongly consistent). */
export async function getRuns(db: Db, storageId: number): Promise<string[]> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: registryKey(storageId), ConsistentRead: true }));
  return (res.Item?.runs as string[] | undefined) ?? [];
}

/** Appends `run` to the registry unless it is there already (idempotent). */
export async function addRun(db: Db, storageId: number, run: string): Promise<void> {
  // A failed condition means the run is registered already.
  await updateReturning(db, {
    Key: registryKey(storageId),
    UpdateExpression: 'SET runs = list_append(if_not_exists(runs, :empty), :r), kind = :k',
    ConditionExpression: 'attribute_not_exists(runs) OR NOT contains(runs, :run)',
    ExpressionAttributeValues: { ':empty': [], ':r': [run], ':run': run, ':k': 'link_runs' },
  });
}

/**
 * Deletes the pages of every run `drop` selects and removes those runs from the registry (the
 * registry is rewritten only if nobody changed it meanwhile; bounded retries). Returns the pages deleted.
 */
export async function dropRuns(db: Db, storageId: number, drop: (run: string) => boolean): Promise<number> {
  let deleted = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const runs = await getRuns(db, storageId);
    const gone = runs.filter(drop);
    if (!gone.length) return deleted;
    // Pages first: a run still registered but without pages is harmless, the reverse is not.
    for (const run of gone) deleted += await deleteRunPages(db, storageId, run);
    const updated = await updateReturning(db, {
      Key: registryKey(storageId),
      UpdateExpression: 'SET runs = :keep',
      ConditionExpression: 'runs = :was',
      ExpressionAttributeValues: { ':keep': runs.filter((r) => !drop(r)), ':was': runs },
    });
    if (updated) return deleted;
  }
  throw new Error(`could not update the link runs of storage ${storageId} after 5 attempts`);
}

/** Deletes every page of one run. */
async function deleteRunPages(db: Db, storageId: number, run: string): Promise<number> {
  let n = 0;
  for (let shard = 0; shard < PAGE_SHARDS; shard++) n += await deletePartition(db, pagePk(storageId, run, shard));
  return n;
}

// ---------------------------------------------------------------------------------------------
// Pages

/** Where one stored page lives and what it covers. */
export interface PageRef {
  run: string;
  pk: string;
  sk: string;
  from: string | null;
  to: string | null;
}

type StoredLink = Omit<LinkItem, 'kind' | 'storageId' | 'tomb'> & { tomb?: number[] };

function decodeLinks(storageId: number, data: unknown): LinkItem[] {
  return (unpackJson<StoredLink[] | undefined>(data) ?? []).map((l) => ({ ...l, kind: 'link', storageId, ...(l.tomb?.length ? { tomb: new Set(l.tomb) } : { tomb: undefined }) }) as LinkItem);
}

function encodeLink(l: LinkItem): string {
  const { kind: _k, storageId: _s, tomb, ...rest } = l;
  return JSON.stringify(tomb?.size ? { ...rest, tomb: [...tomb] } : rest);
}

/** Pages of one run overlapping (`from`, `to`]: per shard, from the first page ending after `from` to the first ending at or after `to`. */
async function runPages(db: Db, storageId: number, run: string, from: string | null, to: string | null): Promise<(PageRef & { data: unknown })[]> {
  const out: (PageRef & { data: unknown })[] = [];
  await Promise.all(
    Array.from({ length: PAGE_SHARDS }, async (_, shard) => {
      let startKey: Record<string, unknown> | undefined;
      for (;;) {
        const res = await db.doc.send(
          new QueryCommand({
            TableName: db.table,
            KeyConditionExpression: from === null ? 'pk = :pk AND sk >= :lo' : 'pk = :pk AND sk > :lo',
            ExpressionAttributeValues: { ':pk': pagePk(storageId, run, shard), ':lo': from === null ? 'T#' : pageSk(from) },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
            // Pages are large and the walk usually stops after one or two.
            Limit: 2,
          }),
        );
        let stop = false;
        for (const it of res.Items ?? []) {
          const page = { run, pk: String(it.pk), sk: String(it.sk), from: (it.from as string | null) ?? null, to: (it.to as string | null) ?? null, data: it.data };
          // Pages of one run are disjoint and sorted by their end: the first one starting at or
          // after `to` and everything past it lie outside the range.
          if (to !== null && page.from !== null && compareUtf8(page.from, to) >= 0) {
            stop = true;
            break;
          }
          out.push(page);
          if (to !== null && (page.to === null || compareUtf8(page.to, to) >= 0)) {
            stop = true;
            break;
          }
        }
        startKey = res.LastEvaluatedKey;
        if (stop || !startKey) break;
      }
    }),
  );
  return out;
}

/**
 * The links of every object in (`from`, `to`] as the live runs record them (newest run wins over
 * each page's range), and the pages of `ownRun` met on the way (the caller replaces them).
 */
export async function loadPagedLinks(
  db: Db,
  storageId: number,
  runs: string[],
  from: string | null,
  to: string | null,
  ownRun?: string,
): Promise<{ links: Map<string, LinkItem>; own: PageRef[] }> {
  const links = new Map<string, LinkItem>();
  const own: PageRef[] = [];
  const perRun = await Promise.all(runs.map((run) => runPages(db, storageId, run, from, to)));
  perRun.forEach((pages, i) => {
    for (const page of pages) {
      if (runs[i] === ownRun) own.push(page);
      for (const k of [...links.keys()]) if (inRange(k, page.from, page.to)) links.delete(k);
      for (const l of decodeLinks(storageId, page.data)) if (inRange(l.key, from, to)) links.set(l.key, l);
    }
  });
  return { links, own };
}

/**
 * The links of the given keys (sorted, UTF-8 order) as the live runs record them: per key, the
 * newest run whose page covers it decides (its link, or none). Each run and shard is walked
 * forward with one Query per page a key falls in (no page between two keys is read), so a burst
 * of keys in one range costs a few queries, not one per key.
 */
export async function linksOfKeys(db: Db, storageId: number, runs: string[], keys: string[]): Promise<Map<string, LinkItem>> {
  const decided = new Map<string, { run: number; link?: LinkItem }>();
  await Promise.all(
    runs.flatMap((run, r) =>
      Array.from({ length: PAGE_SHARDS }, async (_, shard) => {
        let page: { from: string | null; to: string | null; links: Map<string, LinkItem> } | undefined;
        for (const key of keys) {
          if (!page || (page.to !== null && compareUtf8(key, page.to) > 0)) {
            page = await pageEndingFrom(db, storageId, run, shard, key);
            if (!page) return;
          }
          if (page.from !== null && compareUtf8(key, page.from) <= 0) continue;
          const seen = decided.get(key);
          if (!seen || seen.run < r) decided.set(key, { run: r, link: page.links.get(key) });
        }
      }),
    ),
  );
  const out = new Map<string, LinkItem>();
  for (const [k, d] of decided) if (d.link) out.set(k, d.link);
  return out;
}

/** The first page of one run and shard ending at or after `key`, decoded. */
async function pageEndingFrom(db: Db, storageId: number, run: string, shard: number, key: string) {
  const res = await db.doc.send(
    new QueryCommand({
      TableName: db.table,
      KeyConditionExpression: 'pk = :pk AND sk >= :lo',
      ExpressionAttributeValues: { ':pk': pagePk(storageId, run, shard), ':lo': pageSk(key) },
      ConsistentRead: true,
      Limit: 1,
    }),
  );
  const it = res.Items?.[0];
  if (!it) return undefined;
  return { from: (it.from as string | null) ?? null, to: (it.to as string | null) ?? null, links: new Map(decodeLinks(storageId, it.data).map((l) => [l.key, l])) };
}

/**
 * Stores the complete link state of (`from`, `to`] for `run`: the links (any order) cut into pages
 * of at most {@link MAX_PAGE_BYTES}, then deletes the pages of `stale` (this run's earlier pages of
 * the range) that were not overwritten. Idempotent: the same links give the same pages.
 */
export async function writePages(
  db: Db,
  storageId: number,
  run: string,
  chunk: number,
  from: string | null,
  to: string | null,
  links: LinkItem[],
  stale: PageRef[] = [],
  concurrency = 4,
): Promise<void> {
  const sorted = [...links].sort((a, b) => compareUtf8(a.key, b.key));
  const pk = pagePk(storageId, run, chunk % PAGE_SHARDS);
  const items: Record<string, unknown>[] = [];
  let start = from;
  let parts: string[] = [];
  let bytes = 0;
  const emit = (end: string | null) => {
    items.push({ pk, sk: pageSk(end), kind: 'link_page', storageId, run, chunk, from: start, to: end, data: packJsonText(`[${parts.join(',')}]`), written: Date.now() });
    start = end;
    parts = [];
    bytes = 0;
  };
  sorted.forEach((l, i) => {
    const s = encodeLink(l);
    parts.push(s);
    bytes += s.length + 1;
    // Cut after this link when the page is full (the last page always ends at `to`).
    if (bytes >= MAX_PAGE_BYTES && i < sorted.length - 1) emit(l.key);
  });
  emit(to);
  await batchWrite(db, items.map((Item) => ({ PutRequest: { Item } })), { concurrency });
  const kept = new Set(items.map((it) => `${it.pk}\u0000${it.sk}`));
  const drop = stale.filter((p) => p.run === run && !kept.has(`${p.pk}\u0000${p.sk}`) && inRangeOf(p, from, to));
  if (drop.length) await batchWrite(db, drop.map((p) => ({ DeleteRequest: { Key: { pk: p.pk, sk: p.sk } } })));
}

/** True when the page's whole range lies inside (`from`, `to`]. */
function inRangeOf(p: PageRef, from: string | null, to: string | null): boolean {
  const startsIn = from === null || (p.from !== null && compareUtf8(p.from, from) >= 0);
  const endsIn = to === null || (p.to !== null && compareUtf8(p.to, to) <= 0);
  return startsIn && endsIn;
}

/** Deletes the page registry and every page of a storage (storage deletion). */
export async function deleteAllPages(db: Db, storageId: number): Promise<number> {
  return dropRuns(db, storageId, () => true);
}
