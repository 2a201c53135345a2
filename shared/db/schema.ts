/**
 * The one DynamoDB table, described once: the CDK data construct and the local runtime
 * (`npm start`, tests) both create it from this description, so they cannot drift.
 *
 * Single-table design. Every item has `pk`, `sk` and `kind` (the stream filter of the export
 * mapping matches `kind = "annotation"`). Access patterns and key shapes are documented in
 * docs/data-model.md; key builders live in `shared/db/keys.ts`.
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB TTL deletes job scratch items (chunks) after it. */
  ttlAttribute: 'ttl',
  globalIndexes: [
    { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  ],
  stream: 'NEW_AND_OLD_IMAGES',
} as const;

/** Item kinds; the export event source mapping filters on `kind`. */
export const ITEM_KINDS = {
  org: 'org',
  token: 'token',
  counter: 'counter',
  project: 'project',
  storage: 'storage',
  task: 'task',
  annotation: 'annotation',
  link: 'link',
  job: 'job',
  chunk: 'chunk',
  exportLink: 'export_link',
  sweep: 'sweep',
  webhook: 'webhook',
  webhookDelivery: 'webhook_delivery',
  webhookEvent: 'webhook_event',
} as const;

/** Tasks and annotations of one project spread over this many GSI partitions (no hot key). */
export const PROJECT_SHARDS = 16;

/** Env var carrying the table name into every function. */
export const TABLE_ENV = 'LABELSYNC_TABLE';
