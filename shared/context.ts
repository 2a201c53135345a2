/**
 * Process-wide dependencies, built once per cold start: the table handle, the secret box and the
 * hooks other modules plug in. Use cases take a context (or parts of it) as a parameter; handlers
 * pass `getContext()`, tests and the local runtime override parts with `setContext()`.
 */
import { documentClient } from './db/client';
import type { StorageItem } from './db/items';
import type { Db } from './db/repo-common';
import { env, type Env } from './config/env';
import { secretBoxFor, type SecretBox } from './crypto/secret-box';
import type { GetProviderOptions } from './storage/registry';
import type { StorageConfig, StorageProvider } from './storage/types';

export interface AppContext {
  db: Db;
  env: Env;
  secretBox: SecretBox;
  /**
   * Builds a provider for a (decrypted) storage config. Default: `getProvider` of
   * `shared/storage/registry` (loaded on first use so handlers without storages skip the SDKs).
   */
  getProvider: (config: StorageConfig, opts?: GetProviderOptions) => Promise<StorageProvider>;
  /**
   * Called after an export storage is created (Label Studio runs a full export sync at once).
   * Wired by the sync module / local runtime; absent → nothing happens. Errors are logged, the
   * create still answers 201.
   */
  onExportStorageCreated?: (storage: StorageItem) => Promise<void>;
}

let ctx: AppContext | undefined;

async function defaultGetProvider(config: StorageConfig, opts?: GetProviderOptions): Promise<StorageProvider> {
  const registry = await import('./storage/registry');
  return registry.getProvider(config, opts);
}

/** The process's context, built on first use from the environment. */
export function getContext(): AppContext {
  if (!ctx) {
    const e = env();
    ctx = {
      db: { doc: documentClient(), table: e.table },
      env: e,
      secretBox: secretBoxFor(e),
      getProvider: defaultGetProvider,
      // Label Studio syncs a new target storage at once (loaded lazily: only the storages API needs it).
      onExportStorageCreated: async (s) => (await import('./export/on-create')).syncNewExportStorage(s),
    };
  }
  return ctx;
}

/** Overrides parts of the context (tests, local runtime, hook wiring). Builds the default first. */
export function setContext(patch: Partial<AppContext>): AppContext {
  ctx = { ...getContext(), ...patch };
  return ctx;
}

/** Forgets the context (after the environment changed). */
export function resetContext(): void {
  ctx = undefined;
}
