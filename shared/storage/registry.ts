/**
 * The storage registry: the map of backend definitions (registered in `backends/index.ts`) and,
 * per registry instance, a provider cache. `getProvider` validates a StorageConfig's shape
 * (ValidationError naming the field), runs the endpoint guard on every user-supplied endpoint
 * (inside the definitions' `build`), builds the provider and caches it per credentials/config.
 * `parseConfigErrors`, `uriFor` and `backend` are pure module functions over the definitions.
 */
import { createHash } from 'node:crypto';
import { ValidationError, type FieldErrors } from '../errors';
import type { StorageConfig, StorageProvider } from './types';
import type { ProviderSettings } from './common';
import { checkEndpoint, pinnedLookup } from './endpoint-guard';
import { str } from './backends/values';
import { compileKeyFilter } from './key-filter';
import { ProviderCache } from './provider-cache';
import { DENY_ALL_TENANCY, type TenancyPolicy } from './tenancy';
import { BACKENDS, backend } from './backends';
import type { BackendDefinition, BuildContext, StorageTestHooks } from './backends/definition';

export type { StorageTestHooks } from './backends/definition';
export { redisDb } from './backends/redis';
export { BACKENDS, BACKEND_LIST, backend } from './backends';


export interface GetProviderOptions {
  /** Used for the STS role session name `labelsync-<storageId>`. */
  storageId?: number;
  /** Cache key override; default a hash of the whole config (credentials included). */
  cacheKey?: string;
  /** Settings override (default the registry's settings). */
  settings?: Partial<ProviderSettings>;
  /** Per-call hooks, merged over the registry's. */
  hooks?: StorageTestHooks;
  /** Tenancy override (tests that build providers without an app). */
  tenancy?: TenancyPolicy;
  /** Skip the cache (validation of a config being edited). */
  noCache?: boolean;
}

/** A provider factory with its own cache. */
export interface StorageRegistry {
  /**
   * The provider for `config`, validated and cached.
   * @throws ValidationError naming the field for shape problems (missing bucket, key without
   *         secret, invalid regex_filter, bad local path...); StorageError('forbidden_endpoint')
   *         naming the field when a custom endpoint resolves to a private address;
   *         StorageError('unreachable') when it does not resolve.
   */
  getProvider(config: StorageConfig, opts?: GetProviderOptions): Promise<StorageProvider>;
  /** Forgets (and closes) every cached provider. */
  clear(): void;
}

export interface StorageRegistryOptions {
  /** Provider settings (a call's `settings` option overrides them field by field). */
  settings: ProviderSettings;
  hooks?: StorageTestHooks;
  /** Definitions to build from (default every registered one). */
  backends?: Readonly<Record<string, BackendDefinition>>;
  /** Who may sign with which identity (default: nobody uses the service's own, no external ids). */
  tenancy?: TenancyPolicy;
}

/**
 * Every shape problem of a config, per field (empty object = fine). Pure: no network.
 * Checks the type, regex_filter and presign_ttl, then the type's own rules.
 */
export function parseConfigErrors(config: StorageConfig, defs: Readonly<Record<string, BackendDefinition>> = BACKENDS): FieldErrors {
  const errors: FieldErrors = {};
  const add = (f: string, m: string) => (errors[f] ??= []).push(m);
  const def = backend(config.type, defs);
  if (!def) add('type', `Unknown storage type '${String(config.type)}'`);
  try {
    compileKeyFilter(config.regex_filter);
  } catch (e) {
    if (e instanceof ValidationError) for (const [f, m] of Object.entries(e.fields)) m.forEach((x) => add(f, x));
  }
  const ttl = config.presign_ttl;
  if (ttl !== undefined && ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > 65535)) {
    add('presign_ttl', 'presign_ttl must be an integer number of minutes between 1 and 65535');
  }
  def?.shapeErrors(config, add);
  return errors;
}

/**
 * The URI a task points at for `key`: `s3://bucket/key`, `gs://bucket/key`,
 * `azure-blob://container/key`, `azure-spi://container/key`, `redis://<db>/<key>` and for local
 * files `/data/local-files/?d=<path relative to LOCAL_FILES_DOCUMENT_ROOT, encoded per segment>`
 * (prefix it with the public base URL). Pure. Cloud keys are not encoded: the resolver reads the
 * key verbatim after the bucket.
 * @throws Error for an unknown type.
 */
export function uriFor(config: StorageConfig, key: string, documentRoot: string): string {
  const def = backend(config.type);
  if (!def) throw new Error(`Unknown storage type '${String(config.type)}'`);
  return def.uriFor(config, key, { documentRoot });
}

function configHash(config: StorageConfig, storageId: number | undefined): string {
  const sorted = Object.keys(config)
    .sort()
    .map((k) => [k, config[k]]);
  return createHash('sha256').update(JSON.stringify([storageId ?? null, sorted])).digest('hex');
}

function isComplete(s: Partial<ProviderSettings> | undefined): s is ProviderSettings {
  return (
    s !== undefined &&
    s.maxReadBytes !== undefined &&
    s.allowedEndpoints !== undefined &&
    s.localFilesDocumentRoot !== undefined &&
    s.connectTimeoutMs !== undefined &&
    s.requestTimeoutMs !== undefined
  );
}

/** A registry over `opts.backends` (default all) with its own provider cache; no shared state. */
export function createStorageRegistry(opts: StorageRegistryOptions): StorageRegistry {
  const defs = opts.backends ?? BACKENDS;
  const cache = new ProviderCache();

  function build(config: StorageConfig, o: GetProviderOptions): Promise<StorageProvider> {
    const settings = { ...(isComplete(o.settings) ? {} : opts.settings), ...o.settings } as ProviderSettings;
    const guard = (endpoint: string, field: string) => checkEndpoint(endpoint, field, { allowedEndpoints: settings.allowedEndpoints });
    const ctx: BuildContext = {
      settings,
      hooks: { ...opts.hooks, ...o.hooks },
      storageId: o.storageId,
      tenancy: o.tenancy ?? opts.tenancy ?? DENY_ALL_TENANCY,
      guard,
      async pinnedEndpoint(value, field) {
        const endpoint = str(value);
        return endpoint ? { endpoint, lookup: pinnedLookup(await guard(endpoint, field)) } : {};
      },
      common: {
        regexFilter: config.regex_filter,
        recursive: !!config.recursive_scan,
        maxReadBytes: settings.maxReadBytes,
        connectTimeoutMs: settings.connectTimeoutMs,
        requestTimeoutMs: settings.requestTimeoutMs,
      },
    };
    return backend(config.type, defs)!.build(config, ctx);
  }

  return {
    async getProvider(config, o = {}) {
      const errors = parseConfigErrors(config, defs);
      if (Object.keys(errors).length) throw new ValidationError(errors);
      if (o.noCache) return build(config, o);
      return cache.get(o.cacheKey ?? configHash(config, o.storageId), () => build(config, o));
    },
    clear: () => cache.clear(),
  };
}
