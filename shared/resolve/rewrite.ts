/**
 * Rewrites the storage URIs of a task's data into URLs a browser can load: resolve URLs with a
 * media token (default), or inline presigned URLs for storages/deployments that ask for them;
 * and appends a media token to `/data/local-files/?d=` URLs.
 *
 * Every string value is scanned wherever it sits (top-level, nested objects, lists); object keys
 * and non-strings are kept. URIs that no storage of the project matches stay unchanged. The
 * input is never mutated; unchanged sub-trees are returned as the same instances.
 * Without inline presigning this is pure CPU: no I/O, one HMAC per URI.
 */
import { signLocalFilesToken } from './media-token';
import { buildResolveUrl, type ResolveUrlSigner } from './resolve-url';
import { matchStorage, type ResolvableStorage } from './storage-match';
import { findUris, replaceUris, type UriSpan } from './tokenizer';

/** Per-request context of a rewrite (build it once for a page of tasks). */
export interface RewriteContext extends ResolveUrlSigner {
  /** The project's source storages (one query per request, see `loadResolvableStorages`). */
  storages: readonly ResolvableStorage[];
  /** Deployment-wide inline presigning (env LABELSYNC_INLINE_PRESIGN). */
  inlinePresignAll?: boolean;
  /**
   * Presigns `key` of `storage` for inline URLs. Required when any storage (or the deployment)
   * inlines; a failure falls back to the resolve URL.
   */
  presignInline?: (storage: ResolvableStorage, key: string) => Promise<string>;
  /** Append media tokens to local-files URLs (local-files serving enabled). */
  localFilesTokens?: boolean;
}

/** The task a data object belongs to. */
export interface RewriteTarget {
  taskId: number;
  /** The storage the task was synced from: preferred when several storages match a URI. */
  sourceStorageId?: number;
}

type Replacer = (span: UriSpan) => string | undefined;

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = mapStrings(value[i], f);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  if (value !== null && typeof value === 'object') {
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(value)) {
      const old = (value as Record<string, unknown>)[k];
      const v = mapStrings(old, f);
      if (v !== old) (out ??= { ...(value as Record<string, unknown>) })[k] = v;
    }
    return out ?? value;
  }
  return value;
}

function localFilesPath(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(url.slice(q + 1));
  if (params.has('token')) return undefined;
  const d = params.get('d');
  return d ? d : undefined;
}

function makeReplacer(ctx: RewriteContext, target: RewriteTarget, inlined?: ReadonlyMap<string, string>): Replacer {
  return (span) => {
    if (span.kind === 'local-files') {
      if (!ctx.localFilesTokens) return undefined;
      const d = localFilesPath(span.uri);
      if (d === undefined) return undefined;
      const token = signLocalFilesToken(ctx.signingKey, ctx.orgId, d, ctx.tokenTtlSeconds, ctx.nowSec);
      return `${span.uri}${span.uri.endsWith('?') || span.uri.endsWith('&') ? '' : '&'}token=${token}`;
    }
    const inline = inlined?.get(span.uri);
    if (inline !== undefined) return inline;
    if (!matchStorage(ctx.storages, span.uri, target.sourceStorageId)) return undefined;
    return buildResolveUrl(ctx, span.uri, { taskId: target.taskId });
  };
}

function rewriteWith<T>(data: T, replace: Replacer): T {
  return mapStrings(data, (s) => replaceUris(s, findUris(s), replace)) as T;
}

function wantsInline(ctx: RewriteContext): boolean {
  return !!ctx.presignInline && (!!ctx.inlinePresignAll || ctx.storages.some((s) => s.inlinePresign));
}

/** Storage URIs of `data` that the context presigns inline, mapped to their storage and key. */
function inlineCandidates(data: unknown, ctx: RewriteContext, target: RewriteTarget): Map<string, { storage: ResolvableStorage; key: string }> {
  const found = new Map<string, { storage: ResolvableStorage; key: string }>();
  mapStrings(data, (s) => {
    for (const span of findUris(s)) {
      if (span.kind !== 'storage' || found.has(span.uri)) continue;
      const m = matchStorage(ctx.storages, span.uri, target.sourceStorageId);
      if (m && (ctx.inlinePresignAll || m.storage.inlinePresign)) found.set(span.uri, { storage: m.storage, key: m.parsed.key });
    }
    return s;
  });
  return found;
}

/**
 * Synchronous rewrite (resolve URLs and local-files tokens only, never inline presigned URLs).
 * Use it when the context has no inline presigning, e.g. on hot paths that must not await.
 */
export function rewriteTaskDataSync<T>(data: T, ctx: RewriteContext, target: RewriteTarget): T {
  return rewriteWith(data, makeReplacer(ctx, target));
}

/**
 * Rewrites `data` of the task `target.taskId`. Awaits only when inline presigning applies
 * (one presign per distinct URI; a failed presign keeps the resolve URL). Never throws for
 * unmatched or malformed URIs: they stay as they are.
 */
export async function rewriteTaskData<T>(data: T, ctx: RewriteContext, target: RewriteTarget): Promise<T> {
  if (!wantsInline(ctx)) return rewriteTaskDataSync(data, ctx, target);
  const candidates = inlineCandidates(data, ctx, target);
  const inlined = new Map<string, string>();
  await Promise.all(
    [...candidates].map(async ([uri, { storage, key }]) => {
      try {
        inlined.set(uri, await ctx.presignInline!(storage, key));
      } catch {
        // The resolve URL still works; the client just pays the redirect hop.
      }
    }),
  );
  return rewriteWith(data, makeReplacer(ctx, target, inlined));
}
