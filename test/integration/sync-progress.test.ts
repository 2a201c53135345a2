/**
 * Live sync progress through GET /api/storages/{type}/{id}: while a sync lists, `objects_listed`
 * grows (time-based, about every second); once the listing is complete meta has the total, the
 * percent and an ETA; at the end percent is 100. The listing is made slow deterministically: the
 * real local-files provider lists pages of 25 and each page is held back a little (orchestration
 * only, every entry is really listed).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as storagesHandler } from '../../functions/api/storages';
import { processApp } from '../../shared/process-app';
import type { ListOptions, ListPage, StorageConfig, StorageProvider } from '../../shared/storage/types';
import { client, patchApp, type ApiHandler } from './api-harness';
import { newProject, newStorage, startSyncHarness, stopSyncHarness, storageOf, type SyncHarness } from './sync-helpers';

const OBJECTS = 500;
const PAGE = 25;
const PAGE_DELAY_MS = 250;
const HOLD_AFTER_LISTING_MS = 1_500;

let h: SyncHarness;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  // One listing stream: the slow-page wrapper below clocks the listing by its pages, and a
  // partitioned listing's ranges (and split probes) each end on a page of their own.
  h = await startSyncHarness({ chunkSize: 100, listPartitions: 1 });
  api = client(storagesHandler as unknown as ApiHandler, h.token);
}, 120_000);

afterAll(async () => {
  await stopSyncHarness(h);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A local-files import storage of `n` small JSON objects. */
async function storageOfObjects(n: number) {
  const dir = join(h.root, `progress-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `o${String(i).padStart(5, '0')}.json`), `{"image":"p${i}"}`);
  const projectId = await newProject(h.orgId);
  const config: StorageConfig = { type: 'localfiles', role: 'import', path: dir, recursive_scan: true, use_blob_urls: false };
  return { dir, storage: await newStorage(h.orgId, projectId, config) };
}

/**
 * Listing of `dir`'s storage in small, slow pages (`listing.endedAt`: when its last page came), and
 * reads held until {@link HOLD_AFTER_LISTING_MS} after it.
 */
function slowListing(dir: string) {
  const listing = { endedAt: 0, steps: 0 };
  const real = processApp().getProvider;
  async function* slow(p: StorageProvider, o: ListOptions | undefined): AsyncIterable<ListPage> {
    listing.steps++;
    for await (const page of p.list({ ...o, pageSize: PAGE })) {
      await sleep(PAGE_DELAY_MS);
      if (!page.nextToken) listing.endedAt = Date.now();
      yield page;
    }
  }
  patchApp({
    getProvider: async (c, opts) => {
      const p = await real(c, opts);
      if (c.type !== 'localfiles' || c.path !== dir) return p;
      return new Proxy(p, {
        get(t, prop, recv) {
          if (prop === 'list') return (o?: ListOptions) => slow(t, o);
          if (prop !== 'read') return Reflect.get(t, prop, recv);
          // The chunks after the listing wait a moment: the API is seen between listing and end.
          return async (...args: Parameters<StorageProvider['read']>) => {
            if (listing.endedAt) await sleep(Math.max(0, listing.endedAt + HOLD_AFTER_LISTING_MS - Date.now()));
            return t.read(...args);
          };
        },
      });
    },
  });
  return { listing, restore: () => patchApp({ getProvider: real }) };
}

/** Conditional storage updates that raise `objects_listed` only (the listing's progress writes). */
function countListedWrites(storageId: number) {
  const counter = { n: 0 };
  const stack = processApp().db.doc.middlewareStack;
  stack.add(
    (next) => async (args) => {
      const input = args.input as { Key?: { pk?: string }; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string> };
      const names = Object.values(input.ExpressionAttributeNames ?? {});
      if (String(input.Key?.pk ?? '').includes(String(storageId)) && names.includes('objects_listed') && input.ConditionExpression?.includes(' < ')) counter.n++;
      return next(args);
    },
    { step: 'initialize', name: 'countListedWrites' },
  );
  return { counter, remove: () => stack.remove('countListedWrites') };
}

type Meta = Record<string, number | null | undefined>;

describe('sync progress', () => {
  it('shows objects_listed growing while listing, then total, percent and ETA, and percent 100 at the end', async () => {
    const { dir, storage } = await storageOfObjects(OBJECTS);
    const { listing, restore } = slowListing(dir);
    const writes = countListedWrites(storage.id);
    const seen: { t: number; meta: Meta; status: string }[] = [];
    try {
      const started = Date.now();
      const res = await api('POST', `/api/storages/localfiles/${storage.id}/sync`);
      expect(res.status, res.text).toBe(200);
      const deadline = Date.now() + 60_000;
      let idle = false;
      void h.starter.idle().then(() => (idle = true));
      while (!idle && Date.now() < deadline) {
        const g = await api('GET', `/api/storages/localfiles/${storage.id}`);
        expect(g.status).toBe(200);
        seen.push({ t: Date.now(), meta: (g.json.meta ?? {}) as Meta, status: g.json.status });
        await sleep(250);
      }
      expect(idle, 'the sync did not end within 60 s').toBe(true);
      const listingMs = listing.endedAt - started;
      // Listing: ~20 pages of 250 ms, several seconds.
      expect(listingMs).toBeGreaterThan(3_000);

      // Before the listing ended: objects_listed rose at least twice, and steadily.
      const during = seen.filter((s) => s.t < listing.endedAt && s.status === 'in_progress');
      const rises: number[] = [];
      let last = 0;
      for (const s of during) {
        const n = Number(s.meta.objects_listed ?? 0);
        if (n > last) rises.push(s.t);
        last = Math.max(last, n);
        expect(n).toBeLessThanOrEqual(OBJECTS);
      }
      expect(rises.length, JSON.stringify(during.map((s) => [s.t - started, s.meta.objects_listed]))).toBeGreaterThanOrEqual(2);
      const firstSeen = during.find((s) => s.meta.objects_listed !== undefined);
      expect(firstSeen, 'objects_listed never shown while listing').toBeDefined();
      // The 1-s cadence itself is asserted with a fake clock (test/unit/sync-progress-math.test.ts).
      // Here each rise waits for a real DynamoDB Local write and a poll, both slowed by whatever else
      // the machine runs, so the bound is on the average rate (a rise every 5 s even when loaded;
      // about one a second when quiet), not on the longest gap.
      const gaps = rises.slice(1).map((t, i) => t - rises[i]);
      expect(rises.length, `gaps between rises ${gaps}`).toBeGreaterThanOrEqual(Math.floor(listingMs / 5_000));
      expect(during.some((s) => s.meta.objects_total !== undefined), 'no total before the listing ended').toBe(false);

      // After the listing, while processing: total, percent and ETA.
      const after = seen.find((s) => s.status === 'in_progress' && s.meta.objects_total !== undefined);
      expect(after, 'total never shown while processing').toBeDefined();
      expect(after!.meta).toMatchObject({ objects_total: OBJECTS, objects_listed: OBJECTS });
      expect(after!.meta.percent).toBeGreaterThanOrEqual(0);
      expect(after!.meta.percent).toBeLessThan(100);
      expect(after!.meta.eta_seconds).toBeGreaterThanOrEqual(0);

      const final = await storageOf(storage.id);
      expect(final.status).toBe('completed');
      expect(final.meta).toMatchObject({ objects_listed: OBJECTS, objects_processed: OBJECTS, objects_total: OBJECTS, percent: 100, eta_seconds: 0 });

      // Extra writes: at most one a second per listing step, plus one at each step's end.
      const bound = Math.ceil(listingMs / 1_000) + listing.steps;
      console.log(`[sync-progress] listing ${listingMs} ms in ${listing.steps} steps: ${writes.counter.n} objects_listed writes (bound ${bound})`);
      expect(writes.counter.n).toBeLessThanOrEqual(bound);
    } finally {
      writes.remove();
      restore();
    }
  }, 90_000);
});
