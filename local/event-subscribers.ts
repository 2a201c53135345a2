/**
 * `npm start`'s long-lived notification subscribers: for every event-synced storage of a type
 * whose notifications need one (`eventSync: "subscriber"`: local files' watcher, Redis keyspace
 * notifications), a subscription through its provider feeding event sync. The set follows the
 * routing items (shared/db/repo-event-routes.ts), re-read every `refreshMs`: storages created,
 * changed (a new `updated_at` resubscribes), deleted or switched off are picked up, and after a
 * restart every stored one is subscribed again. A broken subscription is dropped and made again
 * at the next refresh (bounded by the refresh period, never a tight loop).
 *
 * Keys are coalesced per storage: a flush runs `debounceMs` after the last change (at most
 * `maxWaitMs` after the first), one at a time per storage; at most `maxPendingKeys` wait, beyond
 * that a flush starts at once and the keys keep arriving into the next one.
 */
import type { AppContext } from '../shared/context';
import { routesOfType } from '../shared/db/repo-event-routes';
import { getStorage } from '../shared/db/repo-storages';
import { BACKEND_LIST } from '../shared/storage/backends';
import type { KeyChange, StorageProvider, Subscription } from '../shared/storage/types';
import { applyObjectEvents, followsEvents, type ObjectEventsOutcome } from '../shared/sync/object-events';

export interface EventSubscribersOptions {
  app: () => AppContext;
  log: (message: string) => void;
  refreshMs?: number;
  debounceMs?: number;
  maxWaitMs?: number;
  maxPendingKeys?: number;
  /** Called after each flush (tests, progress). */
  onApplied?: (storageId: number, outcome: ObjectEventsOutcome) => void;
}

export interface EventSubscribers {
  /** Re-reads the routing items now (also runs every refreshMs). */
  refresh(): Promise<void>;
  /** Storage ids with a live subscription. */
  subscribed(): number[];
  stop(): Promise<void>;
}

interface Live {
  version: string;
  provider?: StorageProvider;
  sub?: Subscription;
  pending: Map<string, KeyChange>;
  timer?: NodeJS.Timeout;
  firstAt?: number;
  flushing?: Promise<void>;
  broken?: boolean;
}

/** Types whose event sync needs a subscriber in this process. */
const SUBSCRIBER_TYPES = BACKEND_LIST.filter((d) => d.capabilities?.eventSync === 'subscriber').map((d) => d.type);

export function startEventSubscribers(opts: EventSubscribersOptions): EventSubscribers {
  const refreshMs = opts.refreshMs ?? 2_000;
  const debounceMs = opts.debounceMs ?? 150;
  const maxWaitMs = opts.maxWaitMs ?? 1_000;
  const maxPending = opts.maxPendingKeys ?? 10_000;
  const live = new Map<number, Live>();
  let stopped = false;
  let refreshing: Promise<void> | undefined;

  const flush = (id: number, l: Live): void => {
    clearTimeout(l.timer);
    l.timer = undefined;
    if (l.flushing || !l.pending.size) return;
    const changes = [...l.pending.values()];
    l.pending.clear();
    l.firstAt = undefined;
    l.flushing = applyObjectEvents(opts.app().syncDeps(), id, changes)
      .then((o) => opts.onApplied?.(id, o))
      .catch((e: Error) => opts.log(`[events] storage ${id}: ${changes.length} change(s) not applied: ${e.message}`))
      .finally(() => {
        l.flushing = undefined;
        if (l.pending.size && !stopped) schedule(id, l);
      });
  };

  const schedule = (id: number, l: Live): void => {
    const now = Date.now();
    l.firstAt ??= now;
    if (l.pending.size >= maxPending) return flush(id, l);
    clearTimeout(l.timer);
    l.timer = setTimeout(() => flush(id, l), Math.max(0, Math.min(debounceMs, l.firstAt + maxWaitMs - now)));
  };

  const subscribe = async (id: number, version: string): Promise<void> => {
    const app = opts.app();
    const storage = await getStorage(app.db, id);
    if (!followsEvents(storage)) return;
    const l: Live = { version, pending: new Map() };
    live.set(id, l);
    try {
      const provider = await app.getProvider(await app.syncDeps().storageConfig(storage), { noCache: true, storageId: id });
      l.provider = provider;
      if (!provider.subscribe) {
        live.delete(id);
        return;
      }
      l.sub = await provider.subscribe(
        (changes) => {
          for (const c of changes) l.pending.set(c.key, c);
          if (!stopped) schedule(id, l);
        },
        (e) => {
          l.broken = true;
          opts.log(`[events] storage ${id}: subscription broke (${e.message}); resubscribing at the next refresh`);
        },
      );
    } catch (e) {
      l.broken = true;
      opts.log(`[events] storage ${id}: cannot subscribe (${(e as Error).message}); retrying at the next refresh`);
    }
  };

  const unsubscribe = async (id: number): Promise<void> => {
    const l = live.get(id);
    live.delete(id);
    if (!l) return;
    clearTimeout(l.timer);
    await l.sub?.close().catch(() => undefined);
    await l.provider?.close().catch(() => undefined);
    await l.flushing;
  };

  const refreshOnce = async (): Promise<void> => {
    const app = opts.app();
    const wanted = new Map<number, string>();
    for (const type of SUBSCRIBER_TYPES) {
      for (const r of await routesOfType(app.db, type)) {
        const s = await getStorage(app.db, r.storageId);
        if (followsEvents(s)) wanted.set(s.id, s.updated_at);
      }
    }
    for (const [id, l] of [...live]) if (wanted.get(id) !== l.version || l.broken) await unsubscribe(id);
    for (const [id, version] of wanted) if (!live.has(id) && !stopped) await subscribe(id, version);
  };

  const refresh = (): Promise<void> => (refreshing ??= refreshOnce().catch((e: Error) => opts.log(`[events] refresh failed: ${e.message}`)).finally(() => (refreshing = undefined)));
  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  void refresh();

  return {
    refresh,
    subscribed: () => [...live].filter(([, l]) => l.sub && !l.broken).map(([id]) => id),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await refreshing;
      for (const id of [...live.keys()]) await unsubscribe(id);
    },
  };
}
