/**
 * Set-up shared by the resolve suites: storages and tasks written through the repositories
 * (secrets sealed with the real secret box), the local HTTP server of the runtime in front of the
 * real handlers, and a media-token helper using the real signing key.
 */
import type { Context } from 'aws-lambda';
import { reserveIds, nextId } from '../../shared/db/counters';
import type { StorageItem, TaskItem } from '../../shared/db/items';
import { putTasks } from '../../shared/db/repo-tasks';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../shared/db/keys';
import { putStorage } from '../../shared/db/repo-storages';
import { getContext } from '../../shared/context';
import type { StorageConfig } from '../../shared/storage/types';
import { startHttpServer, type LocalHttpServer } from '../../local/http-server';
import type { FunctionName } from '../../functions/manifest';
import type { LambdaHandler } from '../../local/lambda-functions';

const SECRET_FIELDS = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token', 'account_key', 'client_secret', 'google_application_credentials', 'password'];

/** Stores an import storage of `projectId` for `orgId`; secrets are sealed as the API would. */
export async function addStorage(orgId: string, projectId: number, config: StorageConfig & Record<string, unknown>): Promise<StorageItem> {
  const app = getContext();
  const fields: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'type' || k === 'role') continue;
    (SECRET_FIELDS.includes(k) ? secrets : fields)[k] = v;
  }
  const now = new Date().toISOString();
  const item: StorageItem = {
    kind: 'storage',
    id: await nextId(app.db, 'storage'),
    projectId,
    orgId,
    type: config.type,
    role: config.role,
    fields,
    secrets: Object.keys(secrets).length ? await app.secretBox.encrypt(JSON.stringify(secrets)) : undefined,
    status: 'initialized',
    last_sync: null,
    last_sync_count: null,
    last_sync_job: null,
    traceback: null,
    meta: {},
    synchronizable: true,
    created_at: now,
    updated_at: now,
  };
  await putStorage(app.db, item);
  return item;
}

/** Changes non-secret fields of a storage (e.g. flips `presign`). */
export async function patchStorage(s: StorageItem, fields: Record<string, unknown>): Promise<void> {
  const { db } = getContext();
  const next = { ...s.fields, ...fields };
  const updated_at = new Date(Math.max(Date.now(), Date.parse(s.updated_at) + 1)).toISOString();
  // `fields` is a DynamoDB reserved word, hence the attribute names.
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: keys.storage(s.id),
      UpdateExpression: 'SET #f = :f, #u = :u',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#f': 'fields', '#u': 'updated_at' },
      ExpressionAttributeValues: { ':f': next, ':u': updated_at },
    }),
  );
  s.fields = next;
  s.updated_at = updated_at;
}

/** Writes tasks with the given data into a project; returns their ids in order. */
export async function addTasks(orgId: string, projectId: number, datas: Record<string, unknown>[], source?: { storageId: number }): Promise<number[]> {
  const app = getContext();
  const first = await reserveIds(app.db, 'task', datas.length);
  const now = new Date().toISOString();
  const tasks: TaskItem[] = datas.map((data, i) => ({
    kind: 'task',
    id: first + i,
    projectId,
    orgId,
    data,
    is_labeled: false,
    total_annotations: 0,
    cancelled_annotations: 0,
    total_predictions: 0,
    ...(source ? { source: { storageId: source.storageId, key: `k${i}`, row_index: null } } : {}),
    created_at: now,
    updated_at: now,
  }));
  await putTasks(app.db, tasks);
  return tasks.map((t) => t.id);
}

/** The local runtime's HTTP server in front of the given handlers. */
export async function startServer(handlers: Partial<Record<FunctionName, unknown>>): Promise<LocalHttpServer> {
  return startHttpServer({
    port: 0,
    host: '127.0.0.1',
    region: 'us-east-1',
    log: () => undefined,
    resolveHandler: async (fn) => {
      const h = handlers[fn];
      if (!h) throw new Error(`no handler for ${fn} in this test`);
      return h as LambdaHandler;
    },
  });
}

export const noContext = {} as Context;

/** Parts of a resolve URL. */
export function parseResolveUrl(url: string): { path: string; fileuri: string; token: string } {
  const u = new URL(url, 'http://x');
  return { path: u.pathname, fileuri: u.searchParams.get('fileuri') ?? '', token: u.searchParams.get('token') ?? '' };
}
