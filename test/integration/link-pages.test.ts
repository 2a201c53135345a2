/**
 * Link pages of ordered storages on DynamoDB Local (shared/db/repo-link-pages.ts): ranges read
 * back exactly, newer runs win over their whole range (absent keys included), large ranges split
 * into several pages, stale pages of a run are replaced, and dropping runs deletes their pages.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { processApp } from '../../shared/process-app';
import type { Db } from '../../shared/db/repo-common';
import {
  addRun,
  dropRuns,
  getRuns,
  loadPagedLinks,
  MAX_PAGE_BYTES,
  PAGE_SHARDS,
  writePages,
} from '../../shared/db/repo-link-pages';
import type { LinkItem } from '../../shared/db/repo-links';
import { compareUtf8 } from '../../shared/storage/common';

let db: Db;
let nextStorage = 900_000 + Math.floor(Math.random() * 50_000);

beforeAll(() => {
  db = processApp().db;
});

const link = (storageId: number, key: string, first = 1, extra: Partial<LinkItem> = {}): LinkItem => ({
  kind: 'link', storageId, key, etag: `e-${key}`, single: true, rows: 1, idRanges: [[first, 1]], jobId: 'j', updated_at: 't', ...extra,
});

async function pagesOf(storageId: number, run: string): Promise<{ sk: string; from: string | null; to: string | null }[]> {
  const out: { sk: string; from: string | null; to: string | null }[] = [];
  for (let shard = 0; shard < PAGE_SHARDS; shard++) {
    const res = await db.doc.send(new QueryCommand({ TableName: db.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `LP#${storageId}#${run}#${shard}` }, ConsistentRead: true }));
    for (const it of res.Items ?? []) out.push({ sk: String(it.sk), from: (it.from as string | null) ?? null, to: (it.to as string | null) ?? null });
  }
  return out;
}

describe('link pages', () => {
  it('reads back exactly the links of a range, for closed and open-ended ranges', async () => {
    const s = nextStorage++;
    await addRun(db, s, 'r1~1');
    // Three chunks of one run: (null, b], (b, é], (é, null] — non-ASCII keys sort by UTF-8 bytes.
    await writePages(db, s, 'r1~1', 0, null, 'b', [link(s, 'a'), link(s, 'b')]);
    await writePages(db, s, 'r1~1', 1, 'b', 'é', [link(s, 'c'), link(s, 'z'), link(s, 'é')]);
    await writePages(db, s, 'r1~1', 2, 'é', null, [link(s, '飞')]);
    const runs = await getRuns(db, s);
    expect(runs).toEqual(['r1~1']);
    const keysOf = async (from: string | null, to: string | null) => [...(await loadPagedLinks(db, s, runs, from, to)).links.keys()].sort(compareUtf8);
    expect(await keysOf(null, null)).toEqual(['a', 'b', 'c', 'z', 'é', '飞']);
    expect(await keysOf('a', 'c')).toEqual(['b', 'c']);
    expect(await keysOf('b', 'é')).toEqual(['c', 'z', 'é']);
    expect(await keysOf('z', null)).toEqual(['é', '飞']);
    expect(await keysOf(null, 'a')).toEqual(['a']);
    const got = (await loadPagedLinks(db, s, runs, null, null)).links.get('z')!;
    expect({ etag: got.etag, idRanges: got.idRanges, storageId: got.storageId }).toEqual({ etag: 'e-z', idRanges: [[1, 1]], storageId: s });
  });

  it('a newer run replaces the older one over its whole range, keys it no longer has included', async () => {
    const s = nextStorage++;
    await addRun(db, s, 'old~1');
    await writePages(db, s, 'old~1', 0, null, 'm', [link(s, 'a', 1), link(s, 'c', 2), link(s, 'k', 3)]);
    await writePages(db, s, 'old~1', 1, 'm', null, [link(s, 'p', 4), link(s, 'x', 5)]);
    await addRun(db, s, 'new~1');
    // The newer run covers (b, n] only: 'c' changed, 'k' is gone, 'a', 'p' and 'x' stay with the old run.
    await writePages(db, s, 'new~1', 0, 'b', 'n', [link(s, 'c', 20), link(s, 'd', 21)]);
    const { links } = await loadPagedLinks(db, s, await getRuns(db, s), null, null);
    expect(Object.fromEntries([...links].map(([k, l]) => [k, l.idRanges[0][0]]))).toEqual({ a: 1, c: 20, d: 21, p: 4, x: 5 });
    // Reading only part of the range gives the same answer for that part.
    const part = await loadPagedLinks(db, s, await getRuns(db, s), 'c', 'q', 'new~1');
    expect([...part.links.keys()].sort(compareUtf8)).toEqual(['d', 'p']);
    expect(part.own.map((p) => p.to)).toEqual(['n']);
  });

  it('splits a large range into pages under the item size limit and replaces stale pages of its run', async () => {
    const s = nextStorage++;
    await addRun(db, s, 'r~1');
    const long = (i: number) => `${String(i).padStart(6, '0')}/${'x'.repeat(900)}`;
    const many = Array.from({ length: 600 }, (_, i) => link(s, long(i), i));
    await writePages(db, s, 'r~1', 3, null, null, many);
    const pages = await pagesOf(s, 'r~1');
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil((600 * 900) / MAX_PAGE_BYTES));
    // Contiguous: each page starts where the previous one ended; the last is open-ended.
    const sorted = [...pages].sort((a, b) => (a.to === null ? 1 : b.to === null ? -1 : compareUtf8(a.to, b.to)));
    expect(sorted[0].from).toBeNull();
    expect(sorted[sorted.length - 1].to).toBeNull();
    for (let i = 1; i < sorted.length; i++) expect(sorted[i].from).toBe(sorted[i - 1].to);
    const runs = await getRuns(db, s);
    const all = await loadPagedLinks(db, s, runs, null, null, 'r~1');
    expect(all.links.size).toBe(600);
    expect((await loadPagedLinks(db, s, runs, long(100), long(450))).links.size).toBe(350);
    // Rewriting the range with few links (a retried chunk that now sees less) leaves one page.
    await writePages(db, s, 'r~1', 3, null, null, many.slice(0, 2), all.own);
    expect((await pagesOf(s, 'r~1')).length).toBe(1);
    expect((await loadPagedLinks(db, s, runs, null, null)).links.size).toBe(2);
  });

  it('dropping runs deletes their pages and unregisters them; other runs stay', async () => {
    const s = nextStorage++;
    for (const r of ['a~1', 'b~1']) {
      await addRun(db, s, r);
      await addRun(db, s, r);
      await writePages(db, s, r, 0, null, null, [link(s, `k-${r}`)]);
    }
    expect(await getRuns(db, s)).toEqual(['a~1', 'b~1']);
    expect(await dropRuns(db, s, (r) => r === 'a~1')).toBe(1);
    expect(await getRuns(db, s)).toEqual(['b~1']);
    expect(await pagesOf(s, 'a~1')).toEqual([]);
    expect([...(await loadPagedLinks(db, s, await getRuns(db, s), null, null)).links.keys()]).toEqual(['k-b~1']);
  });
});
