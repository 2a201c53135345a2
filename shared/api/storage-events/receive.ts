/**
 * Push notifications into event sync: Pub/Sub push for `gcs` storages, Event Grid webhooks for
 * `azure` / `azure_spi`. These routes carry no `Token`: the storage id in the path fixes the
 * storage (and with it the organization), and the request proves it is the storage's notifier —
 * a Google-signed OIDC token for the configured service account and audience (GCS), or the
 * storage's webhook secret (Azure). Nothing else in the request is trusted: the bucket or
 * container an event names must be the storage's. A delivery is answered 2xx only after its
 * events are applied, so the notifier's retries cover every failure.
 */
import type { AppContext } from '../../context';
import type { StorageItem } from '../../db/items';
import { getStorage } from '../../db/repo-storages';
import { AuthError, ConflictError, ForbiddenError, NotFoundError } from '../../errors';
import { parseJsonBody } from '../../http/body';
import type { HttpRequest } from '../../http/types';
import { parseEventGrid } from './event-grid';
import { emptyOutcome, followsEvents, type ObjectEvent, type ObjectEventsOutcome } from '../../sync/object-events';
import type { KeyLookup } from './jwks';
import { checkClaims, verifySignature } from './oidc-token';
import { parsePubSubPush } from './pubsub-push';
import { pushPath, type PushType } from './push-types';
import { webhookSecret, webhookSecretMatches } from './webhook-secret';


/**
 * Largest delivery accepted: Event Grid batches up to 1 MB (`--max-events-per-batch` /
 * `--preferred-batch-size-in-kilobytes` ≤ 1024); a Cloud Storage notification is a few KB.
 */
export const MAX_PUSH_BODY_BYTES = 1024 * 1024 + 64 * 1024;

/** Query parameter and header that may carry an Azure storage's webhook secret. */
export const SECRET_QUERY_PARAM = 'code';
export const SECRET_HEADER = 'x-labelsync-event-secret';

/** What a delivery did: the event-sync outcome's counters (README, "Push notifications"). */
export type PushOutcome = Omit<ObjectEventsOutcome, 'taskIds' | 'errors'>;

const counters = ({ taskIds: _t, errors: _e, ...rest }: ObjectEventsOutcome): PushOutcome => rest;
const NOTHING: PushOutcome = counters(emptyOutcome());

export interface PushDeps {
  /** Google's OIDC signing keys (cached per app). */
  googleKeys: KeyLookup;
  /** Applies a storage's events; resolves once they are applied (or stored to apply after a running sync job). */
  apply: (storage: StorageItem, events: ObjectEvent[]) => Promise<ObjectEventsOutcome>;
  now?: () => number;
}


/** The live import storage `id` of `type`. @throws NotFoundError otherwise */
async function pushStorage(app: AppContext, type: PushType, id: number | undefined): Promise<StorageItem> {
  const s = id === undefined ? undefined : await getStorage(app.db, id);
  if (!s || s.type !== type || s.role !== 'import') throw new NotFoundError('Storage not found.');
  return s;
}

/** @throws ConflictError (409: the notifier retries) while the storage does not follow events */
function requireEventSync(s: StorageItem): void {
  if (!followsEvents(s)) throw new ConflictError(`This storage has event_sync off; notifications are refused until it is on.`);
}

/**
 * The audience a storage's push tokens must carry: `event_push_audience` when set, else the
 * endpoint's URL under LABELSYNC_PUBLIC_BASE_URL (what `gcloud` uses when
 * `--push-auth-token-audience` is omitted).
 * @throws ForbiddenError when neither is configured (no audience can be trusted)
 */
export function gcsPushAudience(app: AppContext, s: StorageItem): string {
  const stored = typeof s.fields.event_push_audience === 'string' ? s.fields.event_push_audience.trim() : '';
  if (stored) return stored;
  if (app.env.publicBaseUrl) return `${app.env.publicBaseUrl}${pushPath('gcs', s.id)}`;
  throw new ForbiddenError('Set event_push_audience on the storage or LABELSYNC_PUBLIC_BASE_URL: no push audience is configured.');
}

/**
 * A Pub/Sub push for `gcs` storage `id`.
 * @throws AuthError (401) / ForbiddenError (403) for a token that does not prove the storage's
 *   service account; NotFoundError (404) after a valid signature for an unknown storage;
 *   ValidationError (400) for a malformed envelope or another bucket; ConflictError (409) with
 *   event_sync off
 */
export async function receiveGcsPush(app: AppContext, deps: PushDeps, id: number | undefined, req: HttpRequest): Promise<PushOutcome> {
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) throw new AuthError('Authentication credentials were not provided.');
  // The signature first: without a Google-signed token nothing else (storage existence included) is answered.
  const claims = await verifySignature(m[1], deps.googleKeys);
  const s = await pushStorage(app, 'gcs', id);
  const email = typeof s.fields.event_push_service_account === 'string' ? s.fields.event_push_service_account : '';
  if (!email) throw new ForbiddenError('Storage has no event_push_service_account: push notifications are refused.');
  checkClaims(claims, { audience: gcsPushAudience(app, s), email, now: deps.now });
  requireEventSync(s);
  const event = parsePubSubPush(parseJsonBody(req, { maxBytes: MAX_PUSH_BODY_BYTES }), String(s.fields.bucket));
  if (!event) return NOTHING;
  return counters(await deps.apply(s, [event]));
}

/** @throws AuthError (401) unless the request carries storage `id`'s webhook secret */
async function requireWebhookSecret(app: AppContext, id: number | undefined, req: HttpRequest): Promise<void> {
  const given = req.query[SECRET_QUERY_PARAM] || req.headers[SECRET_HEADER];
  if (id === undefined || !webhookSecretMatches(await app.signingKey(), id, given)) throw new AuthError('Missing or wrong webhook secret.');
}

/**
 * An Event Grid delivery (Event Grid or CloudEvents schema) for Azure storage `id`: the
 * subscription handshake is answered with its code; blob events are applied.
 * @throws AuthError (401) for a missing or wrong secret (checked before anything else);
 *   NotFoundError, ValidationError (another container, malformed event), ConflictError as GCS
 */
export async function receiveEventGrid(
  app: AppContext,
  deps: PushDeps,
  type: PushType,
  id: number | undefined,
  req: HttpRequest,
): Promise<{ validationResponse: string } | (PushOutcome & { ignored: number })> {
  await requireWebhookSecret(app, id, req);
  const s = await pushStorage(app, type, id);
  const delivery = parseEventGrid(parseJsonBody(req, { maxBytes: MAX_PUSH_BODY_BYTES }), String(s.fields.container));
  if ('validationCode' in delivery) return { validationResponse: delivery.validationCode };
  requireEventSync(s);
  const outcome = delivery.events.length ? counters(await deps.apply(s, delivery.events)) : NOTHING;
  return { ...outcome, ignored: delivery.ignored };
}

/**
 * The CloudEvents webhook handshake (`OPTIONS` with `WebHook-Request-Origin`): the origin is
 * allowed when the request carries the storage's secret.
 * @returns the `WebHook-Allowed-Origin` value
 * @throws AuthError (401) for a wrong secret, ValidationError without the origin header
 */
export async function cloudEventsHandshake(app: AppContext, type: PushType, id: number | undefined, req: HttpRequest): Promise<string> {
  await requireWebhookSecret(app, id, req);
  await pushStorage(app, type, id);
  const origin = req.headers['webhook-request-origin'];
  if (!origin) throw new AuthError('WebHook-Request-Origin header is required.');
  return origin;
}

/** What a storage's owner needs to create the subscription (`GET …/{id}/events`). */
export async function pushEndpointInfo(app: AppContext, s: StorageItem): Promise<Record<string, unknown>> {
  const url = `${app.env.publicBaseUrl}${pushPath(s.type as PushType, s.id)}`;
  if (s.type === 'gcs') {
    let audience: string | null = null;
    try {
      audience = gcsPushAudience(app, s);
    } catch {
      audience = null;
    }
    return { push_endpoint: url, audience, service_account: s.fields.event_push_service_account ?? null };
  }
  const secret = webhookSecret(await app.signingKey(), s.id);
  return { webhook_url: `${url}?${SECRET_QUERY_PARAM}=${secret}`, secret, secret_header: SECRET_HEADER };
}
