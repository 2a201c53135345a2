/**
 * Webhooks and their deliveries. A webhook is `WEBHOOK#<id>` / `WEBHOOK`, listed per organization
 * through gsi1 (`ORG#<org>#WEBHOOKS`); its deliveries live in the same partition under
 * `DELIVERY#<id>` (ids start with the creation time, so a backwards Query is newest first) and
 * expire after {@link DELIVERY_TTL_DAYS}; `EVENT#<event id>` markers make recording an event for
 * a webhook idempotent. Deleting a webhook removes its item only: its deliveries become
 * unreachable through the API and expire.
 */
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys, pad } from './keys';
import { ITEM_KINDS } from './schema';
import { isTransactionConditionFailure, queryPages, stripKeys, transactWrite, updateIf, updateReturning, UpdateExpression, type Db } from './repo-common';

export interface WebhookItem {
  kind: 'webhook';
  id: number;
  orgId: string;
  /** null: an organization-level webhook. */
  project: number | null;
  url: string;
  send_payload: boolean;
  send_for_all_actions: boolean;
  /** Names of the extra headers (values are in `headers_enc`). */
  header_names: string[];
  /** The extra headers' JSON, encrypted with the secret box; absent when there are none. */
  headers_enc?: string;
  is_active: boolean;
  consecutive_failures: number;
  actions: string[];
  /** The signing secret, encrypted. */
  secret_enc: string;
  /** The secret before the last rotation, still signed with until `previous_secret_until`. */
  previous_secret_enc?: string;
  previous_secret_until?: string;
  created_at: string;
  updated_at: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryItem {
  kind: 'webhook_delivery';
  id: string;
  webhookId: number;
  orgId: string;
  event_id: string;
  action: string;
  status: DeliveryStatus;
  attempts: number;
  response_status: number | null;
  error: string | null;
  /** The exact body sent (snapshot taken when the event happened). */
  body: string;
  created_at: string;
  updated_at: string;
  ttl: number;
}

/** Deliveries (and event markers) are kept this long. */
export const DELIVERY_TTL_DAYS = 30;

const ttlAfterDays = (days: number) => Math.floor(Date.now() / 1000) + days * 86400;

export async function putWebhook(db: Db, w: WebhookItem): Promise<void> {
  await db.doc.send(
    new PutCommand({
      TableName: db.table,
      Item: { ...keys.webhook(w.id), ...keys.webhooksOfOrg(w.orgId), gsi1sk: pad(w.id), ...w, kind: ITEM_KINDS.webhook },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
}

/** One webhook by id (any organization; callers check `orgId`), or undefined. */
export async function getWebhook(db: Db, id: number): Promise<WebhookItem | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.webhook(id) }));
  return stripKeys<WebhookItem>(res.Item);
}

/** Every webhook of an organization in id order (an organization has few; the Query pages stream). */
export async function listOrgWebhooks(db: Db, orgId: string): Promise<WebhookItem[]> {
  const out: WebhookItem[] = [];
  const input = { IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: { ':pk': keys.webhooksOfOrg(orgId).gsi1pk } };
  for await (const page of queryPages(db, input, 200)) for (const it of page.items) out.push(stripKeys<WebhookItem>(it)!);
  return out;
}

/** Sets fields of a webhook (and `updated_at`); REMOVEs the keys whose value is null. Undefined when it is gone. */
export async function updateWebhook(db: Db, id: number, patch: Partial<Omit<WebhookItem, 'kind' | 'id' | 'orgId' | 'project' | 'created_at'>>): Promise<WebhookItem | undefined> {
  const x = new UpdateExpression();
  x.sets.push(`${x.name('updated_at')} = ${x.value(new Date().toISOString())}`);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null && (k === 'previous_secret_enc' || k === 'previous_secret_until' || k === 'headers_enc')) x.removes.push(x.name(k));
    else x.sets.push(`${x.name(k)} = ${x.value(v)}`);
  }
  return updateReturning<WebhookItem>(db, { Key: keys.webhook(id), ...x.input() });
}

export async function deleteWebhook(db: Db, id: number): Promise<void> {
  await db.doc.send(new DeleteCommand({ TableName: db.table, Key: keys.webhook(id) }));
}

/** Deletes the webhooks of a project; returns how many. */
export async function deleteProjectWebhooks(db: Db, orgId: string, projectId: number): Promise<number> {
  const own = (await listOrgWebhooks(db, orgId)).filter((w) => w.project === projectId);
  for (const w of own) await deleteWebhook(db, w.id);
  return own.length;
}

/**
 * A delivery succeeded: resets `consecutive_failures` (written only when it was not 0 already).
 */
export async function resetWebhookFailures(db: Db, id: number): Promise<void> {
  await updateIf(db, {
    Key: keys.webhook(id),
    UpdateExpression: 'SET consecutive_failures = :zero',
    ConditionExpression: 'attribute_exists(pk) AND consecutive_failures <> :zero',
    ExpressionAttributeValues: { ':zero': 0 },
  });
}

/**
 * A delivery was dead-lettered: adds one to `consecutive_failures` atomically and, when it reaches
 * `max` (> 0), deactivates the webhook. Returns the new count and whether this call deactivated it.
 */
export async function countWebhookFailure(db: Db, id: number, max: number): Promise<{ failures: number; deactivated: boolean }> {
  const after = await updateReturning<WebhookItem>(db, {
    Key: keys.webhook(id),
    UpdateExpression: 'ADD consecutive_failures :one',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':one': 1 },
  });
  if (!after) return { failures: 0, deactivated: false };
  if (max <= 0 || after.consecutive_failures < max || !after.is_active) return { failures: after.consecutive_failures, deactivated: false };
  const deactivated = await updateIf(db, {
    Key: keys.webhook(id),
    UpdateExpression: 'SET is_active = :f, updated_at = :now',
    ConditionExpression: 'attribute_exists(pk) AND is_active = :t',
    ExpressionAttributeValues: { ':f': false, ':t': true, ':now': new Date().toISOString() },
  });
  return { failures: after.consecutive_failures, deactivated };
}

/**
 * Records a pending delivery together with its event marker in one transaction. False when the
 * event was already recorded for this webhook (nothing is written).
 */
export async function recordDelivery(db: Db, d: Omit<DeliveryItem, 'kind' | 'ttl'>): Promise<boolean> {
  const ttl = ttlAfterDays(DELIVERY_TTL_DAYS);
  try {
    await transactWrite(db, {
      TransactItems: [
        {
          Put: {
            TableName: db.table,
            Item: { ...keys.webhookEvent(d.webhookId, d.event_id), kind: ITEM_KINDS.webhookEvent, deliveryId: d.id, ttl },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        { Put: { TableName: db.table, Item: { ...keys.webhookDelivery(d.webhookId, d.id), ...d, kind: ITEM_KINDS.webhookDelivery, ttl } } },
      ],
    });
    return true;
  } catch (e) {
    if (isTransactionConditionFailure(e)) return false;
    throw e;
  }
}

export async function getDelivery(db: Db, webhookId: number, deliveryId: string): Promise<DeliveryItem | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.webhookDelivery(webhookId, deliveryId), ConsistentRead: true }));
  return stripKeys<DeliveryItem>(res.Item);
}

/**
 * Claims attempt `attempts + 1` of a pending delivery (conditional on nobody else having claimed
 * it: a message SQS delivers twice sends once). False when it is no longer pending or was claimed.
 */
export async function claimDeliveryAttempt(db: Db, d: Pick<DeliveryItem, 'webhookId' | 'id' | 'attempts'>): Promise<boolean> {
  return updateIf(db, {
    Key: keys.webhookDelivery(d.webhookId, d.id),
    UpdateExpression: 'SET attempts = :next, updated_at = :now',
    ConditionExpression: 'attribute_exists(pk) AND #s = :pending AND attempts = :cur',
    ExpressionAttributeNames: { '#s': 'status' },
    ExpressionAttributeValues: { ':next': d.attempts + 1, ':cur': d.attempts, ':pending': 'pending', ':now': new Date().toISOString() },
  });
}

/** Writes the outcome of an attempt. */
export async function setDeliveryOutcome(
  db: Db,
  d: Pick<DeliveryItem, 'webhookId' | 'id'>,
  outcome: { status: DeliveryStatus; response_status: number | null; error: string | null },
): Promise<void> {
  await updateIf(db, {
    Key: keys.webhookDelivery(d.webhookId, d.id),
    UpdateExpression: 'SET #s = :s, response_status = :r, #e = :e, updated_at = :now',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeNames: { '#s': 'status', '#e': 'error' },
    ExpressionAttributeValues: { ':s': outcome.status, ':r': outcome.response_status, ':e': outcome.error, ':now': new Date().toISOString() },
  });
}

/**
 * A page of a webhook's deliveries, newest first, after the delivery id `before` (exclusive),
 * optionally only those with `status`. Returns the page and whether more may exist.
 */
export async function listDeliveries(
  db: Db,
  webhookId: number,
  opts: { limit: number; before?: string; status?: DeliveryStatus },
): Promise<{ items: DeliveryItem[]; hasMore: boolean }> {
  const items: DeliveryItem[] = [];
  const pk = keys.webhook(webhookId).pk;
  const input = {
    KeyConditionExpression: opts.before ? 'pk = :pk AND sk BETWEEN :lo AND :before' : 'pk = :pk AND begins_with(sk, :lo)',
    ExpressionAttributeValues: {
      ':pk': pk,
      ':lo': 'DELIVERY#',
      ...(opts.before ? { ':before': `DELIVERY#${opts.before}` } : {}),
      ...(opts.status ? { ':st': opts.status } : {}),
    },
    ...(opts.status ? { FilterExpression: '#s = :st', ExpressionAttributeNames: { '#s': 'status' } } : {}),
    ScanIndexForward: false,
  };
  for await (const page of queryPages(db, input, () => Math.max(opts.limit + 1 - items.length, 25))) {
    for (const it of page.items) {
      const d = stripKeys<DeliveryItem>(it)!;
      if (opts.before && d.id === opts.before) continue; // BETWEEN is inclusive
      items.push(d);
    }
    if (items.length > opts.limit) break;
  }
  return { items: items.slice(0, opts.limit), hasMore: items.length > opts.limit };
}
