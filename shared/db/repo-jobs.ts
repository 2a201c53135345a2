/**
 * Sync jobs: `JOB#<jobId>` / `JOB` items holding the role, the storage, the deletion mode and
 * atomic ADD counters (live progress, mirrored into the storage's meta). TTL 30 days.
 *
 * The job item is hot: chunk completions add to it in transactions while listing steps and the
 * progress mirror update it, and DynamoDB refuses a plain write to an item while a transaction on
 * it is in flight (TransactionConflictException, not retried by the SDK). Every write of it goes
 * through retryContention (conflicts and throttling; bounded, jittered backoff).
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalFailure, retryContention, updateReturning, type Db } from './repo-common';
import { pyTime, writeStorageSyncState } from './repo-storage-sync-state';
import { JOB_TTL_SECONDS, syncKeys, ttlIn } from './sync-keys';


/** Counters of a job, all monotonic (atomic ADD). */
export interface JobCounters {
  /** Objects the listing produced (after filters). */
  listed: number;
  /** Objects whose chunk completed. */
  processed: number;
  /** Tasks created / updated in place / removed / flagged object_exists=false. */
  created: number;
  updated: number;
  removed: number;
  flagged: number;
  /** Tasks "remove" kept and flagged because they have annotations or predictions. */
  flagged_annotated: number;
  /** Objects skipped because their version did not change. */
  unchanged: number;
  /** Objects (or rows) that failed. */
  failed: number;
  /** Keys skipped because they lie under one of the project's target-storage prefixes. */
  skipped_export: number;
  /** Annotations created from task files. */
  annotations: number;
  /** Chunks planned by the listing. */
  chunks: number;
  /** Chunks skipped whole because their digest matched the previous clean job's. */
  chunks_unchanged: number;
}

export const COUNTER_NAMES: readonly (keyof JobCounters)[] = [
  'listed', 'processed', 'created', 'updated', 'removed', 'flagged', 'flagged_annotated', 'unchanged', 'failed', 'skipped_export', 'annotations', 'chunks', 'chunks_unchanged',
];

export interface JobItem extends JobCounters {
  kind: 'job';
  jobId: string;
  storageId: number;
  role: 'import' | 'export';
  /** Whether the provider lists in key order (decides range diff vs mark-and-sweep). */
  ordered: boolean;
  sync_deletions: SyncDeletions;
  /** The previous job whose chunk digests this job may trust (it ran cleanly right before); null → none. */
  trust_digests_of?: string | null;
  created_at: string;
  /** Epoch ms of the last progress mirror into the storage's meta. */
  mirrored_at?: number;
  /** The listing is complete: `listed` is the job's total. */
  listDone?: boolean;
  /** The last listing step whose counts the job holds. */
  listedThrough?: number;
  /** Local files the listing left out because they have more than one hard link (set by listing steps). */
  hard_links_skipped?: number;
}

export type SyncDeletions = 'keep' | 'remove' | 'flag';

/** Creates the job item once (a retried Start keeps the first one). Returns the stored job. */
export async function createJob(
  db: Db,
  job: Pick<JobItem, 'jobId' | 'storageId' | 'role' | 'ordered' | 'sync_deletions' | 'trust_digests_of'>,
): Promise<JobItem> {
  const res = await retryContention(() => db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: syncKeys.job(job.jobId),
      UpdateExpression:
        'SET kind = if_not_exists(kind, :k), jobId = if_not_exists(jobId, :j), storageId = if_not_exists(storageId, :s), #role = if_not_exists(#role, :r), ' +
        '#ordered = if_not_exists(#ordered, :o), sync_deletions = if_not_exists(sync_deletions, :d), created_at = if_not_exists(created_at, :c), #ttl = if_not_exists(#ttl, :t), ' +
        'trust_digests_of = if_not_exists(trust_digests_of, :trust)',
      ExpressionAttributeNames: { '#role': 'role', '#ordered': 'ordered', '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':k': 'job', ':j': job.jobId, ':s': job.storageId, ':r': job.role, ':o': job.ordered, ':d': job.sync_deletions,
        ':c': new Date().toISOString(), ':t': ttlIn(JOB_TTL_SECONDS), ':trust': job.trust_digests_of ?? null,
      },
      ReturnValues: 'ALL_NEW',
    }),
  ));
  return withCounters(res.Attributes as Partial<JobItem>);
}

/** A job item with every counter present as a number. */
export function withCounters(item: Partial<JobItem>): JobItem {
  const out = { ...item } as JobItem;
  for (const c of COUNTER_NAMES) out[c] = Number(item[c] ?? 0);
  return out;
}

/** The job, read strongly consistent; undefined when it does not exist (or expired). */
export async function getJob(db: Db, jobId: string): Promise<JobItem | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: syncKeys.job(jobId), ConsistentRead: true }));
  return res.Item ? withCounters(res.Item as Partial<JobItem>) : undefined;
}

/** `ADD #a :a, ...` parts for non-zero counters (names escaped: several are reserved words). */
export function counterAddExpression(delta: Partial<JobCounters>): { parts: string[]; names: Record<string, string>; values: Record<string, number> } {
  const parts: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  for (const [k, v] of Object.entries(delta)) {
    if (!v) continue;
    parts.push(`#${k} :${k}`);
    names[`#${k}`] = k;
    values[`:${k}`] = v;
  }
  return { parts, names, values };
}

/** Atomically adds counters to the job; returns the job after the addition. */
export async function addJobCounters(db: Db, jobId: string, delta: Partial<JobCounters>): Promise<JobItem | undefined> {
  const { parts, names, values } = counterAddExpression(delta);
  if (!parts.length) return getJob(db, jobId);
  try {
    const res = await retryContention(() => db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: syncKeys.job(jobId),
        UpdateExpression: `ADD ${parts.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    ));
    return withCounters(res.Attributes as Partial<JobItem>);
  } catch (e) {
    if (isConditionalFailure(e)) return undefined;
    throw e;
  }
}


/** An export job counts annotations, not objects and tasks: its meta says so. */
const EXPORT_META_NAMES: Record<string, string> = {
  objects_listed: 'annotations_listed',
  objects_processed: 'annotations_processed',
  tasks_created: 'annotations_exported',
  objects_total: 'annotations_total',
};

/** `name` as the storage's meta calls it for a job of `role`. */
export function progressName(role: JobItem['role'], name: string): string {
  return role === 'export' ? (EXPORT_META_NAMES[name] ?? name) : name;
}

/**
 * The progress entries of a storage's meta for a job: processed objects always; once the listing
 * is complete also the total, the percentage and an ETA from the processing rate since the job
 * started (null until something was processed). While the job lists, `objects_listed` is the
 * listing's own ({@link publishListed}): the job's counter lags behind it by a whole step.
 */
export function progressMeta(job: Pick<JobItem, 'role' | 'listed' | 'processed' | 'created' | 'created_at' | 'listDone'>, now: number): Record<string, number | null> {
  const named = importProgressMeta(job, now);
  return Object.fromEntries(Object.entries(named).map(([k, v]) => [progressName(job.role, k), v]));
}

function importProgressMeta(job: Pick<JobItem, 'listed' | 'processed' | 'created' | 'created_at' | 'listDone'>, now: number): Record<string, number | null> {
  const meta: Record<string, number | null> = { objects_processed: job.processed, tasks_created: job.created };
  if (!job.listDone) return meta;
  const total = job.listed;
  const remaining = Math.max(0, total - job.processed);
  const elapsedS = (now - Date.parse(job.created_at)) / 1000;
  const rate = elapsedS > 0 ? job.processed / elapsedS : 0;
  return {
    ...meta,
    objects_listed: total,
    objects_total: total,
    percent: total > 0 ? Math.min(100, Math.floor((job.processed * 100) / total)) : 100,
    eta_seconds: remaining === 0 ? 0 : rate > 0 ? Math.ceil(remaining / rate) : null,
  };
}

/** Writes the job's progress into the storage's meta while the job is the storage's current one and in progress. */
export async function publishProgress(db: Db, storageId: number, job: JobItem, now = Date.now()): Promise<void> {
  const metaEntries = { ...progressMeta(job, now), time_last_ping: pyTime(new Date(now)) };
  await writeStorageSyncState(db, storageId, { metaEntries }, { jobId: job.jobId, statusIn: ['in_progress'] });
}

/**
 * Sets the storage's `meta.objects_listed` to what a running listing has listed so far, only
 * upwards (a retried step lists the same entries again). It writes the storage item, not the job
 * item: chunk completions update the job item in transactions, and a plain update racing one on
 * the same item fails with TransactionConflictException in DynamoDB; no transaction touches a
 * storage item.
 */
export async function publishListed(db: Db, storageId: number, job: Pick<JobItem, 'jobId' | 'role'>, listed: number): Promise<void> {
  const key = progressName(job.role, 'objects_listed');
  await writeStorageSyncState(
    db,
    storageId,
    { metaEntries: { [key]: listed, time_last_ping: pyTime(new Date()) } },
    { jobId: job.jobId, statusIn: ['in_progress'], metaBelow: { key, value: listed } },
  );
}

/**
 * Copies live progress into the storage's meta, at most once per `everyMs` per job (a conditional
 * update on the job item's `mirrored_at` elects one writer), and only while the job is the
 * storage's current one and the storage is in progress.
 */
export async function mirrorProgress(
  db: Db,
  storageId: number,
  jobId: string,
  everyMs = 3_000,
): Promise<void> {
  const now = Date.now();
  let job: JobItem;
  try {
    // The elected writer gets the counters back from its own update: no read for the others.
    const res = await retryContention(() => db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: syncKeys.job(jobId),
        UpdateExpression: 'SET mirrored_at = :now',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(mirrored_at) OR mirrored_at < :before)',
        ExpressionAttributeValues: { ':now': now, ':before': now - everyMs },
        ReturnValues: 'ALL_NEW',
      }),
    ));
    job = withCounters(res.Attributes as Partial<JobItem>);
  } catch (e) {
    if (isConditionalFailure(e)) return;
    throw e;
  }
  await publishProgress(db, storageId, job, now);
}

/** What one listing step adds to its job. */
export interface ListingCounts {
  listed: number;
  chunks: number;
  skipped: number;
  hardLinks: number;
  unchangedChunks: number;
  unchangedObjects: number;
}

/**
 * Adds a listing step's counts to the job exactly once: the step number is a monotonic fence
 * (`listedThrough`), so a retried step does not count twice. `done` marks the listing complete.
 * Returns the job after the addition, or undefined when the step had been counted already.
 */
export async function addListingCounts(db: Db, jobId: string, fence: number, c: ListingCounts, done: boolean): Promise<JobItem | undefined> {
  const job = await retryContention(() => updateReturning<Partial<JobItem>>(db, {
    Key: syncKeys.job(jobId),
    UpdateExpression:
      `SET listedThrough = :f${done ? ', listDone = :t' : ''} ` +
      'ADD #listed :l, #chunks :c, skipped_export :s, hard_links_skipped :h, chunks_unchanged :cu, #unchanged :u, #processed :u',
    ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(listedThrough) OR listedThrough < :f)',
    ExpressionAttributeNames: { '#listed': 'listed', '#chunks': 'chunks', '#unchanged': 'unchanged', '#processed': 'processed' },
    ExpressionAttributeValues: {
      ':f': fence, ':l': c.listed, ':c': c.chunks, ':s': c.skipped, ':h': c.hardLinks, ':cu': c.unchangedChunks, ':u': c.unchangedObjects,
      ...(done ? { ':t': true } : {}),
    },
  }));
  return job && withCounters(job);
}

/**
 * Counts one more listing of the job from its start and returns the count (1 for the first):
 * each such listing is a new link run.
 * @throws ConditionalCheckFailedException when the job does not exist
 */
export async function nextListEpoch(db: Db, jobId: string): Promise<number> {
  const res = await retryContention(() => db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: syncKeys.job(jobId),
      UpdateExpression: 'ADD listEpoch :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    }),
  ));
  return Number(res.Attributes?.listEpoch ?? 1);
}
