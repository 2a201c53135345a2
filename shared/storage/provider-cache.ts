/**
 * A bounded LRU of provider promises, so clients, presigners, assumed-role credentials and
 * delegation keys are reused across calls of a warm Lambda. Evicted and cleared providers are
 * closed; a build that fails is forgotten so the next call retries.
 */
import type { StorageProvider } from './types';

/** Providers kept per process: enough for every storage a warm function sees in practice. */
const MAX_CACHED = 64;

/** An LRU of provider promises keyed by config hash. */
export class ProviderCache {
  private readonly entries = new Map<string, Promise<StorageProvider>>();

  /** The cached provider of `key`, else the one `build` makes (cached unless it fails). */
  get(key: string, build: () => Promise<StorageProvider>): Promise<StorageProvider> {
    const hit = this.entries.get(key);
    if (hit) {
      // LRU: move to the end.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const p = build();
    this.entries.set(key, p);
    p.catch(() => this.entries.delete(key));
    while (this.entries.size > MAX_CACHED) {
      const oldest = this.entries.keys().next().value as string;
      const evicted = this.entries.get(oldest);
      this.entries.delete(oldest);
      close(evicted);
    }
    return p;
  }

  /** Forgets and closes every cached provider. */
  clear(): void {
    for (const p of this.entries.values()) close(p);
    this.entries.clear();
  }
}

function close(p: Promise<StorageProvider> | undefined): void {
  void p?.then((x) => x.close(), () => undefined);
}
