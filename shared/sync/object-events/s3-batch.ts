/**
 * One SQS batch of S3 notifications: grouped per bucket, handed to every storage that follows
 * the bucket (routing items, shared/db/repo-event-routes.ts) as one `applyObjectEvents` call per
 * storage — each with that storage's own credentials and tenancy rules, so a storage only
 * imports what it may read. Returns the messages to retry: those of a storage whose call threw.
 * Messages of a bucket nobody follows, and unparseable ones, are dropped (counted, logged once).
 */
import type { Db } from '../../db/repo-common';
import { routesOfPlace } from '../../db/repo-event-routes';
import { getLogger } from '../../logging';
import { countObjectEventsDropped } from '../../metrics';
import type { SyncDeps } from '../deps';
import { applyObjectEvents } from './apply-object-events';
import { parseS3Notification } from './s3-events';
import { addOutcome, emptyOutcome, type ObjectEvent, type ObjectEventsOutcome } from './types';

/** One SQS message as the batch needs it. */
export interface QueueMessage {
  messageId: string;
  body: string;
}

export interface S3BatchResult {
  /** Message ids to retry (SQS `batchItemFailures`). */
  failed: string[];
  /** Events dropped: unparseable, or for a bucket no storage follows. */
  dropped: number;
  /** What the storages did, summed. */
  outcome: ObjectEventsOutcome;
}

/** Applies one batch; never throws for one storage's failure (its messages are retried). */
export async function applyS3Batch(deps: SyncDeps & { db: Db }, messages: QueueMessage[]): Promise<S3BatchResult> {
  const log = getLogger('events');
  const byBucket = new Map<string, { events: ObjectEvent[]; ids: Set<string> }>();
  let dropped = 0;
  for (const m of messages) {
    const parsed = parseS3Notification(m.body);
    if (!parsed) {
      dropped++;
      continue;
    }
    for (const b of parsed) {
      const g = byBucket.get(b.bucket) ?? { events: [], ids: new Set<string>() };
      g.events.push(b.event);
      g.ids.add(m.messageId);
      byBucket.set(b.bucket, g);
    }
  }
  const failed = new Set<string>();
  const outcome = emptyOutcome();
  const unfollowed: string[] = [];
  for (const [bucket, g] of byBucket) {
    const routes = await routesOfPlace(deps.db, 's3', bucket);
    if (!routes.length) {
      dropped += g.events.length;
      unfollowed.push(bucket);
      continue;
    }
    for (const r of routes) {
      try {
        addOutcome(outcome, await applyObjectEvents(deps, r.storageId, g.events));
      } catch (e) {
        log.warn('object events of a storage failed; its messages are retried', { storageId: r.storageId, bucket, error: e as Error });
        for (const id of g.ids) failed.add(id);
      }
    }
  }
  if (dropped) {
    countObjectEventsDropped(dropped);
    log.info('object events dropped', { dropped, unfollowedBuckets: unfollowed.slice(0, 20) });
  }
  return { failed: [...failed], dropped, outcome };
}
