/**
 * Redis provider: keys under `path` (a raw key prefix) in database `db`; values are JSON task
 * strings. Listing uses SCAN with MATCH (never KEYS, which blocks the server); SCAN has no
 * order and may return a key twice, so `ordered` is false and resumed listings are
 * at-least-once. Redis has no folders: `recursive_scan` does not change the listing.
 * No presigned URLs (StorageError('unsupported')).
 */
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { StorageError } from '../../errors';
import type { HeadResult, KeyChange, Subscription, ListOptions, ListPage, ReadOptions, ReadResult, StorageProvider, StorageRole, WriteOptions } from '../types';
import { compileKeyFilter, pageSizeOf, type KeyMatcher, selectsKey } from '../key-filter';
import { readWindow } from '../common';

export interface RedisProviderOptions {
  /** Host to connect to (the checked IP when the endpoint guard pinned it). */
  host: string;
  /** Host as configured, for messages. */
  displayHost: string;
  port: number;
  password?: string;
  db: number;
  /** Key prefix (`path`). */
  path: string;
  regexFilter?: string | null;
  maxReadBytes: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

/** Escapes glob metacharacters so `path` is matched literally by SCAN MATCH. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\^]/g, (c) => `\\${c}`);
}

/** What `notify-keyspace-events` lacks for event sync (a sentence part), or undefined. */
export function missingKeyspaceFlags(flags: string): string | undefined {
  const all = flags.includes('A');
  const out: string[] = [];
  if (!flags.includes('K') && !flags.includes('E')) out.push('K or E');
  if (!all && !flags.includes('$')) out.push('$');
  if (!all && !flags.includes('g')) out.push('g');
  return out.length ? out.join(', ') : undefined;
}

/** The Redis StorageProvider. */
export class RedisProvider implements StorageProvider {
  readonly type = 'redis' as const;
  readonly scheme = 'redis';
  readonly ordered = false;
  readonly bucket: string;
  readonly client: Redis;
  private readonly filter: KeyMatcher;
  /** ioredis rejects connect() with "Connection is closed"; the reason came as an 'error' event. */
  private lastError?: Error;

  constructor(private readonly o: RedisProviderOptions) {
    this.bucket = String(o.db);
    this.filter = compileKeyFilter(o.regexFilter);
    this.client = new Redis({
      host: o.host,
      port: o.port,
      password: o.password || undefined,
      db: o.db,
      lazyConnect: true,
      connectTimeout: o.connectTimeoutMs,
      commandTimeout: o.requestTimeoutMs,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      // Bounded reconnects: give up after 3 attempts instead of retrying forever.
      retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1000)),
    });
    // Errors surface on the awaited command; an unhandled 'error' event would crash the process.
    this.client.on('error', (e: Error) => {
      this.lastError = e;
    });
  }

  private fail(e: unknown, what: string): StorageError {
    if (e instanceof StorageError) return e;
    const msg = `${e instanceof Error ? e.message : String(e)} ${this.lastError?.message ?? ''}`;
    if (/WRONGPASS|NOAUTH|invalid password|AUTH.*without any password|invalid username-password/i.test(msg)) {
      return new StorageError('access_denied', `Redis at ${this.o.displayHost}:${this.o.port} rejected the password`, { cause: e });
    }
    if (/DB index is out of range|invalid DB index/i.test(msg)) {
      return new StorageError('not_found', `Redis database ${this.o.db} does not exist`, { cause: e });
    }
    if (/ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|timed out|Connection is closed|max retries|Stream isn't writeable|connect/i.test(msg)) {
      return new StorageError(
        'unreachable',
        `could not connect to Redis at ${this.o.displayHost}:${this.o.port} within ${Math.round(this.o.connectTimeoutMs / 1000)} s`,
        { cause: e },
      );
    }
    return new StorageError('failed', `Redis command for '${what}' failed`, { cause: e });
  }

  private async ready(): Promise<void> {
    if (this.client.status === 'wait') {
      try {
        await this.client.connect();
      } catch (e) {
        throw this.fail(e, 'connect');
      }
    }
  }

  async *list(options: ListOptions = {}): AsyncIterable<ListPage> {
    await this.ready();
    const pageSize = pageSizeOf(options.pageSize);
    const match = `${escapeGlob(this.o.path)}*`;
    let cursor = options.startToken || '0';
    do {
      options.signal?.throwIfAborted();
      let keys: string[];
      let next: string;
      try {
        [next, keys] = await this.client.scan(cursor, 'MATCH', match, 'COUNT', pageSize);
      } catch (e) {
        throw this.fail(e, this.o.path);
      }
      const wanted = keys.filter(this.filter);
      let sizes: number[] = [];
      if (wanted.length) {
        const pipe = this.client.pipeline();
        for (const k of wanted) pipe.strlen(k);
        try {
          const res = (await pipe.exec()) ?? [];
          sizes = res.map(([err, v]) => (err ? -1 : Number(v)));
        } catch (e) {
          throw this.fail(e, this.o.path);
        }
      }
      const entries = wanted.map((key, i) => ({ key, size: sizes[i] >= 0 ? sizes[i] : undefined }));
      // COUNT is a hint: a SCAN step may return more than a page. Split it; every split page
      // resumes from the cursor that produced it (at-least-once), the last from the next one.
      const done = next === '0';
      for (let i = 0; i < Math.max(entries.length, 1); i += pageSize) {
        const slice = entries.slice(i, i + pageSize);
        const last = i + pageSize >= entries.length;
        yield { entries: slice, nextToken: last ? (done ? undefined : next) : cursor };
      }
      cursor = next;
    } while (cursor !== '0');
  }

  /**
   * Keyspace notifications need `notify-keyspace-events` to hold K or E (channel family), `$`
   * (string writes) and `g` (DEL, RENAME, EXPIRE) — or `A` for every class. A server refusing
   * CONFIG (managed Redis often renames it) cannot be checked, so it is refused too.
   */
  async eventSyncProblem(): Promise<string | undefined> {
    await this.ready();
    let flags: string;
    try {
      const res = (await this.client.config('GET', 'notify-keyspace-events')) as string[];
      flags = String(res?.[1] ?? '');
    } catch {
      return 'Redis refused CONFIG GET notify-keyspace-events, so keyspace notifications cannot be checked; enable them (e.g. notify-keyspace-events "K$gx") and allow CONFIG, or leave event_sync off';
    }
    const missing = missingKeyspaceFlags(flags);
    return missing ? `Redis notify-keyspace-events is "${flags}": event_sync needs ${missing} (e.g. notify-keyspace-events "K$gx")` : undefined;
  }

  /**
   * Keyspace notifications of this db under `path`, on a connection of its own: the `__keyspace@`
   * channels when `notify-keyspace-events` has K, else the `__keyevent@` channels of the string and
   * generic commands. DEL, UNLINK, EXPIRED, EVICTED and RENAME's source report a removal.
   */
  async subscribe(onChange: (changes: KeyChange[]) => void, onError: (e: Error) => void): Promise<Subscription> {
    const problem = await this.eventSyncProblem();
    if (problem) throw new StorageError('unsupported', problem);
    const flags = String(((await this.client.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '');
    const sub = this.client.duplicate({ lazyConnect: true, commandTimeout: undefined });
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      sub.disconnect();
      onError(e);
    };
    sub.on('error', fail);
    sub.on('end', () => fail(new Error('Redis subscription connection closed')));
    const removal = new Set(['del', 'unlink', 'expired', 'evicted', 'rename_from']);
    const report = (key: string, op: string) => {
      if (this.selects(key)) onChange([{ key, kind: removal.has(op) ? 'removed' : 'created' }]);
    };
    await sub.connect();
    if (flags.includes('K')) {
      const prefix = `__keyspace@${this.o.db}__:`;
      sub.on('pmessage', (_p: string, channel: string, op: string) => report(channel.slice(prefix.length), op));
      await sub.psubscribe(`${prefix}${escapeGlob(this.o.path)}*`);
    } else {
      const prefix = `__keyevent@${this.o.db}__:`;
      sub.on('message', (channel: string, key: string) => report(key, channel.slice(prefix.length)));
      await sub.subscribe(...['set', 'setrange', 'append', 'incrby', 'del', 'unlink', 'expired', 'evicted', 'rename_from', 'rename_to', 'restore', 'copy_to'].map((c) => prefix + c));
    }
    return {
      close: async () => {
        failed = true;
        sub.disconnect();
      },
    };
  }

  selects(key: string): boolean {
    return selectsKey(key, { prefix: this.o.path, recursive: true, filter: this.filter });
  }

  async head(key: string): Promise<HeadResult> {
    await this.ready();
    let res;
    try {
      res = await this.client.multi().exists(key).strlen(key).exec();
    } catch (e) {
      throw this.fail(e, key);
    }
    if (!res || Number(res[0][1]) === 0) throw new StorageError('not_found', `Redis key '${key}' does not exist`);
    return { size: Number(res[1][1]), contentType: 'application/json' };
  }

  async read(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    const h = await this.head(key);
    const { start, end, length } = readWindow(key, h.size, options.range, options.maxBytes ?? this.o.maxReadBytes);
    let buf: Buffer | null;
    try {
      buf = options.range ? await this.client.getrangeBuffer(key, start, end) : await this.client.getBuffer(key);
    } catch (e) {
      throw this.fail(e, key);
    }
    if (buf === null) throw new StorageError('not_found', `Redis key '${key}' does not exist`);
    return {
      body: Readable.from([buf]),
      contentLength: buf.length,
      totalSize: h.size,
      contentType: 'application/json',
      ...(options.range ? { range: { start, end: start + buf.length - 1 } } : {}),
    };
  }

  async presign(): Promise<string> {
    throw new StorageError('unsupported', 'Redis storages have no presigned URLs');
  }

  async write(key: string, body: string | Buffer, _options?: WriteOptions): Promise<void> {
    await this.ready();
    try {
      await this.client.set(key, body);
    } catch (e) {
      throw this.fail(e, key);
    }
  }

  async delete(key: string): Promise<void> {
    await this.ready();
    try {
      await this.client.del(key);
    } catch (e) {
      throw this.fail(e, key);
    }
  }

  async validate(role: StorageRole): Promise<void> {
    try {
      await this.ready();
      await this.client.ping();
      await this.client.scan('0', 'MATCH', `${escapeGlob(this.o.path)}*`, 'COUNT', 1);
    } catch (e) {
      const err = this.fail(e, this.o.path);
      // Label Studio's sentence for a failed check of an import storage first: scripts match on it.
      if (role !== 'import') throw err;
      throw new StorageError(err.code, `Can't connect to Redis server. (${err.message})`, { cause: e });
    }
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
