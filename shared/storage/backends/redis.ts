/** `redis`: keys of one Redis db as objects (values are the task JSON or the exported annotation). */
import { isIP } from 'node:net';
import { z } from 'zod';
import type { StorageConfig } from '../types';
import { KEY_SELECTION_FIELDS, shortField } from './common-fields';
import type { BackendDefinition } from './definition';
import { blank, str, text } from './values';

/** Redis db of a config: Label Studio defaults to 1 for import and 2 for export. */
export function redisDb(config: StorageConfig): number {
  if (config.db !== undefined && config.db !== null) return Number(config.db);
  return config.role === 'export' ? 2 : 1;
}

/** The `redis` storage type. */
export const redisBackend: BackendDefinition = {
  type: 'redis',
  title: 'Redis',
  titleOrder: 3,
  fields: {
    path: shortField(),
    ...KEY_SELECTION_FIELDS,
    host: shortField({ required: true, connection: true }),
    port: { schema: z.union([z.string(), z.number().int()]).nullable(), connection: true },
    db: { schema: z.number().int('A valid integer is required.').min(0).max(65535).nullable(), defaultByRole: { import: 1, export: 2 }, connection: true },
    password: shortField({ secret: true }),
  },
  shapeErrors(config, add) {
    if (!str(config.host)) add('host', 'This field is required (an empty host would connect to localhost).');
    const port = config.port;
    if (!blank(port) && !(Number.isInteger(Number(port)) && Number(port) > 0 && Number(port) < 65536)) add('port', 'port must be 1-65535');
    const db = config.db;
    if (db !== undefined && db !== null && !(Number.isInteger(db) && db >= 0 && db <= 65535)) add('db', 'db must be a non-negative integer');
  },
  async build(config, ctx) {
    const { RedisProvider } = await import('../providers/redis');
    const host = str(config.host)!;
    const port = blank(config.port) ? 6379 : Number(config.port);
    // With the port, so that `host:port` allowlist entries apply to Redis too.
    const checked = await ctx.guard(`${isIP(host) === 6 ? `[${host}]` : host}:${port}`, 'host');
    return new RedisProvider({
      ...ctx.common,
      // Connect to the checked address itself: a later DNS answer cannot redirect us.
      host: checked.addresses[0]?.address ?? checked.host,
      displayHost: checked.host,
      port,
      password: str(config.password),
      db: redisDb(config),
      path: config.path ?? '',
    });
  },
  uriFor: (config, key) => `redis://${redisDb(config)}/${key}`,
  // Label Studio ignores `path` on export: annotations are bare keys in the db.
  exportKeyPrefix: () => '',
  location: {
    family: 'redis',
    place: (f) => text(f.host),
    endpoint: (f, role) => JSON.stringify([text(f.port || 6379), text(f.db ?? (role === 'export' ? 2 : 1))]),
  },
  // Keyspace notifications are pub/sub: only a long-lived process (the local runtime) can hold one.
  capabilities: { eventSync: 'subscriber' },
};
