/**
 * Counters of a storage's scheduled syncs (`sync_schedule`): `scheduled_runs` (runs that queued a
 * sync), `scheduled_runs_skipped` (runs that found a sync queued or running), `scheduled_runs_failed`
 * (runs whose request failed, with `last_scheduled_run_error`) and `last_scheduled_run_at`.
 * They are top-level attributes of the storage item, not `meta` entries, because queueing and
 * finishing a sync replace `meta` whole; the API shows them inside `meta`.
 */
import type { StorageItem } from './items';
import { keys } from './keys';
import { updateIf, type Db } from './repo-common';

/** What a scheduled run did. */
export type ScheduledRunOutcome = 'queued' | 'skipped' | 'failed';

const COUNTER: Record<ScheduledRunOutcome, string> = { queued: 'scheduled_runs', skipped: 'scheduled_runs_skipped', failed: 'scheduled_runs_failed' };

/**
 * Counts one scheduled run of a live storage. With `whileJob`, only while that job is still queued
 * or in progress (the conditional skip: a run that finds the sync already over writes nothing and
 * returns false, so it can request one instead).
 * @returns false when the storage is gone or deleted, or `whileJob` no longer holds
 */
export function recordScheduledRun(
  db: Db,
  id: number,
  outcome: ScheduledRunOutcome,
  opts: { at: string; error?: string; whileJob?: string },
): Promise<boolean> {
  const names: Record<string, string> = { '#n': COUNTER[outcome], '#at': 'last_scheduled_run_at', '#c': 'cancelled', '#e': 'last_scheduled_run_error' };
  const values: Record<string, unknown> = { ':one': 1, ':at': opts.at, ':true': true };
  const sets = ['#at = :at'];
  let removes = '';
  if (opts.error !== undefined) {
    sets.push('#e = :e');
    values[':e'] = opts.error;
  } else if (outcome === 'queued') removes = ' REMOVE #e';
  else delete names['#e'];
  let condition = 'attribute_exists(pk) AND (attribute_not_exists(#c) OR #c <> :true)';
  if (opts.whileJob !== undefined) {
    Object.assign(names, { '#s': 'status', '#j': 'last_sync_job' });
    Object.assign(values, { ':q': 'queued', ':p': 'in_progress', ':j': opts.whileJob });
    condition += ' AND #s IN (:q, :p) AND #j = :j';
  }
  return updateIf(db, {
    Key: keys.storage(id),
    UpdateExpression: `ADD #n :one SET ${sets.join(', ')}${removes}`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
}

/** The counters of a storage as `meta` entries (only those ever written). */
export function scheduledRunsMeta(s: StorageItem): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['scheduled_runs', 'scheduled_runs_skipped', 'scheduled_runs_failed', 'last_scheduled_run_at', 'last_scheduled_run_error'] as const) {
    if (s[k] !== undefined) out[k] = s[k];
  }
  return out;
}
