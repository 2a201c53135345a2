/**
 * What the optional capabilities of a definition (`BackendCapabilities`) do, as pure functions
 * over definitions, so that callers outside shared/storage never name a storage type.
 */
import type { Env } from '../../config/env';
import type { StorageConfig } from '../types';
import type { BackendDefinition, EnvSwitch } from './definition';

/**
 * Whether a type is available under `env`: true unless it declares an `enabledBy` switch that
 * is off. An unknown type (undefined definition) is not hidden by this rule.
 */
export function typeEnabled(def: BackendDefinition | undefined, env: Pick<Env, EnvSwitch>): boolean {
  const flag = def?.capabilities?.enabledBy;
  return !flag || env[flag];
}

/** The key the files preview shows for a listed `key` of `config` (see `previewKeyWithPath`). */
export function previewKey(def: BackendDefinition | undefined, config: StorageConfig, key: string): string {
  return def?.capabilities?.previewKeyWithPath && config.path ? `${String(config.path).replace(/\/+$/, '')}/${key}` : key;
}

/** The types whose storages serve files of this host (see `servesHostFiles`), in definition order. */
export function hostFileTypes(defs: readonly BackendDefinition[]): BackendDefinition['type'][] {
  return defs.filter((d) => d.capabilities?.servesHostFiles).map((d) => d.type);
}

/**
 * Why `event_sync: true` is refused for `def` in this process (undefined: allowed by the type;
 * the storage itself may still refuse, see `StorageProvider.eventSyncProblem`).
 */
export function eventSyncRefusal(def: BackendDefinition | undefined, env: Pick<Env, 'eventSubscribers'>): string | undefined {
  const how = def?.capabilities?.eventSync;
  if (!how) return `${def?.title ?? 'This storage type'} storages cannot notify object changes: event_sync is not supported; use sync_schedule or POST .../sync instead.`;
  if (how === 'subscriber' && !env.eventSubscribers) {
    return `${def!.title} notifications need a long-lived subscriber, which only the local runtime runs (LABELSYNC_EVENT_SUBSCRIBERS); event_sync is not supported in this deployment.`;
  }
  return undefined;
}
