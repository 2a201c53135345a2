/**
 * Export sync (POST /api/storages/export/<type>/<id>/sync): every annotation of the project to one
 * target, run by the sync state machine with `role: "export"`. The lister walks the project's 16
 * annotation shards (gsi2 `PROJECT#<p>#ANNOTATIONS#<s>`, sort key = zero-padded id) and cuts
 * self-describing chunk refs (a shard and an id range), so no annotation id list is stored or
 * carried in state; the chunk writer re-queries its range and writes with bounded concurrency.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { keys, pad } from '../db/keys';
import type { AnnotationItem } from '../db/items';
import type { Db } from '../db/repo-common';
import { PROJECT_SHARDS } from '../db/schema';
import { StorageError, ValidationError } from '../errors';
import { mapLimit } from '../storage/common';
import { ExportLinkStore } from './export-link';
import { ExportSourceLoader } from './source';
import { clearTargetFailure, exportFailureReason, reportTargetFailure } from './targets';
import { writeAnnotationToTarget, type TargetOutcome } from './write-target';
import type { ExportDeps } from './deps';

/** Annotations of one shard with `after < id <= until`; `count` as listed. */
export interface ExportChunkRef {
  shard: number;
  after: number;
  until: number;
  count: number;
}

/** What the lister needs to know about the job. */
export interface ExportListJob {
  projectId: number;
  /** Annotations per chunk (default 1,000, the import chunk size). */
  chunkSize?: number;
  /** Chunks per listing step at most (default 100): bounds the state the machine carries. */
  maxChunks?: number;
}

/** One listing step. `token` resumes the walk; null with `done` once every shard is walked. */
export interface ExportListStep {
  chunks: ExportChunkRef[];
  token: string | null;
  done: boolean;
  /** Annotations covered by `chunks`. */
  listed: number;
}

interface Cursor {
  shard: number;
  after: number;
}

function decodeToken(token: string | null | undefined): Cursor {
  if (!token) return { shard: 0, after: 0 };
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Cursor;
    if (Number.isInteger(c.shard) && c.shard >= 0 && c.shard <= PROJECT_SHARDS && Number.isInteger(c.after) && c.after >= 0) return c;
  } catch {
    /* fall through */
  }
  throw ValidationError.field('token', 'Invalid export listing token.');
}

const encodeToken = (c: Cursor): string => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');

const shardPk = (projectId: number, shard: number) => keys.annotationsOfProject(projectId, shard).gsi2pk;

/**
 * One time-boxed listing step over the project's annotation shards, from `token` (null = start).
 * Reads ids only, a page of `chunkSize` per query, and stops at `deadline` (epoch ms; keep a
 * margin below the Lambda timeout) or after `maxChunks` chunks. Resuming with the returned token
 * continues exactly after the last listed id: no annotation is listed twice or skipped.
 * @throws ValidationError for a token this function did not make
 */
export async function listExportChunks(db: Db, job: ExportListJob, token: string | null, deadline: number): Promise<ExportListStep> {
  const chunkSize = Math.max(1, Math.min(job.chunkSize ?? 1000, 5000));
  const maxChunks = job.maxChunks ?? 100;
  let cur = decodeToken(token);
  const chunks: ExportChunkRef[] = [];
  let listed = 0;
  while (cur.shard < PROJECT_SHARDS && chunks.length < maxChunks && Date.now() < deadline) {
    const r = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk > :after',
        ExpressionAttributeValues: { ':pk': shardPk(job.projectId, cur.shard), ':after': pad(cur.after) },
        ProjectionExpression: 'id',
        Limit: chunkSize,
      }),
    );
    const ids = (r.Items ?? []).map((it) => Number(it.id));
    if (ids.length) {
      const until = ids[ids.length - 1];
      chunks.push({ shard: cur.shard, after: cur.after, until, count: ids.length });
      listed += ids.length;
      cur = { shard: cur.shard, after: until };
    }
    if (!r.LastEvaluatedKey) cur = { shard: cur.shard + 1, after: 0 };
  }
  const done = cur.shard >= PROJECT_SHARDS;
  return { chunks, token: done ? null : encodeToken(cur), done, listed };
}

/** Result of one chunk. */
export interface ExportChunkResult {
  /** Annotations found in the chunk (deleted ones since listing are not counted). */
  annotations: number;
  written: number;
  upToDate: number;
  deleted: number;
  failed: number;
  /** Up to 10 readable, secret-free messages. */
  errors: string[];
}

/** Codes that mean the target itself is unusable: stop the chunk early instead of timing out per item. */
const TARGET_DOWN_CODES = new Set(['unreachable', 'access_denied', 'not_found', 'invalid', 'forbidden_endpoint']);

async function chunkAnnotations(db: Db, projectId: number, ref: ExportChunkRef): Promise<AnnotationItem[]> {
  const out: AnnotationItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const r = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': shardPk(projectId, ref.shard), ':from': pad(ref.after + 1), ':to': pad(ref.until) },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const it of r.Items ?? []) if (it.kind === 'annotation') out.push(it as AnnotationItem);
    startKey = r.LastEvaluatedKey;
  } while (startKey);
  return out;
}

/**
 * Writes one chunk (a ref from `listExportChunks`, or explicit annotation ids) to export storage
 * `storageId`, overwriting what is there (Label Studio's export sync overwrites), under the same
 * version guard as the stream: a newer version written meanwhile is never replaced by an older one,
 * a deleted annotation is never written back. At most `deps.concurrency` (default 16) writes in flight.
 * A target that is down or refuses the credentials fails the rest of the chunk fast, records the
 * reason on the storage, and throws so the job reports it.
 * @throws NotFoundError-like StorageError('not_found') when the storage is gone; the target's
 *   StorageError when it is unusable
 */
export async function exportChunk(deps: ExportDeps, storageId: number, chunk: ExportChunkRef | readonly number[]): Promise<ExportChunkResult> {
  const target = await deps.target(storageId);
  if (!target) throw new StorageError('not_found', `export storage ${storageId} does not exist`);
  const loader = new ExportSourceLoader(deps.db);
  const sources = Array.isArray(chunk)
    ? await loader.loadMany(chunk as readonly number[])
    : await loader.completeMany(await chunkAnnotations(deps.db, target.projectId, chunk as ExportChunkRef));
  const provider = await deps.provider(target.config);
  const links = deps.links ?? new ExportLinkStore(deps.db.doc, deps.db.table);
  const now = deps.now ?? (() => new Date());
  const result: ExportChunkResult = { annotations: sources.size, written: 0, upToDate: 0, deleted: 0, failed: 0, errors: [] };
  let down: unknown;
  const count = (o: TargetOutcome) => {
    if (o === 'written') result.written++;
    else if (o === 'up_to_date') result.upToDate++;
    else result.deleted++;
  };
  await mapLimit([...sources.values()], deps.concurrency ?? 16, async (src) => {
    if (down) {
      result.failed++;
      return;
    }
    try {
      count(await writeAnnotationToTarget({ links, provider, reload: (id) => loader.load(id), now }, target, src, { force: true }));
    } catch (e) {
      result.failed++;
      const { code, reason } = exportFailureReason(e);
      if (result.errors.length < 10) result.errors.push(`annotation ${src.annotation.id}: ${reason}`);
      if (TARGET_DOWN_CODES.has(code)) down ??= e;
    }
  });
  if (down) {
    await reportTargetFailure(deps.db, target, down);
    throw down;
  }
  if (result.written) await clearTargetFailure(deps.db, target);
  return result;
}

/**
 * Number of annotations of the project (`meta.total_annotations` of an export sync), from the
 * project's counter when the annotation repository keeps it.
 */
export async function projectAnnotationCount(db: Db, projectId: number): Promise<number | null> {
  const r = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.project(projectId), ProjectionExpression: 'total_annotations_number' }));
  const n = r.Item?.total_annotations_number;
  return typeof n === 'number' ? n : null;
}
