/**
 * The export link: one item per (target storage, annotation) recording which annotation version
 * was claimed and written there. It is the version guard that keeps out-of-order, repeated and
 * concurrent writers (stream, retries, export sync, DLQ replay) from leaving an older version in
 * a bucket than the newest one saved, and its tombstone keeps a late create/update from undoing
 * a delete.
 *
 * Item: `pk=XLINK#<storageId>`, `sk=ANN#<annotationId>`, `kind=export_link`,
 * `version` (highest version a writer claimed), `written_version` (highest version known written),
 * `key` (object key last written), `deleted_at` (tombstone), `ttl` (tombstones expire).
 */
import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionalFailure } from './repo-common';
import { ITEM_KINDS } from './schema';

/** Key of the export link of one annotation in one target storage. */
export const exportLinkKey = (storageId: number, annotationId: number) => ({
  pk: `XLINK#${storageId}`,
  sk: `ANN#${annotationId}`,
});

/** Tombstones outlive every way an old change can come back: stream (24 h) and DLQ retention (14 days). */
export const TOMBSTONE_TTL_SECONDS = 15 * 86400;

export interface ExportLink {
  storageId: number;
  annotationId: number;
  version: number;
  written_version?: number;
  key?: string;
  deleted_at?: string;
}

/** Result of a claim: granted, or refused with the link that refused it. */
export type ClaimResult = { granted: true; previous?: ExportLink } | { granted: false; current?: ExportLink };

/** Reads and updates export links in the table. All reads are strongly consistent. */
export class ExportLinkStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * The conditional update that claims `version` (and with `key` also records it written):
   * refused when a newer version was claimed or the link is tombstoned.
   */
  private claimUpdate(storageId: number, e: { annotationId: number; version: number; key?: string }, now: string) {
    const written = e.key !== undefined;
    return {
      TableName: this.table,
      Key: exportLinkKey(storageId, e.annotationId),
      UpdateExpression: `SET #kind = :kind, storageId = :sid, annotationId = :aid, #version = :v, ${written ? 'written_version = :v, #key = :key, ' : ''}updated_at = :now`,
      ConditionExpression: '(attribute_not_exists(#version) OR #version <= :v) AND attribute_not_exists(deleted_at)',
      ExpressionAttributeNames: { '#kind': 'kind', '#version': 'version', ...(written ? { '#key': 'key' } : {}) },
      ExpressionAttributeValues: { ':kind': ITEM_KINDS.exportLink, ':sid': storageId, ':aid': e.annotationId, ':v': e.version, ...(written ? { ':key': e.key } : {}), ':now': now },
    };
  }

  /** The link, strongly consistent. */
  async get(storageId: number, annotationId: number): Promise<ExportLink | undefined> {
    const r = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: exportLinkKey(storageId, annotationId), ConsistentRead: true }),
    );
    return r.Item as ExportLink | undefined;
  }

  /**
   * Claims `version` before writing the object: granted unless a newer version was claimed or
   * the link is tombstoned. Claiming the same version again is granted (a retry after a failed
   * write must be able to write). `previous` tells whether that version is already written.
   */
  async claim(storageId: number, annotationId: number, version: number): Promise<ClaimResult> {
    try {
      const r = await this.doc.send(new UpdateCommand({ ...this.claimUpdate(storageId, { annotationId, version }, new Date().toISOString()), ReturnValues: 'ALL_OLD' }));
      return { granted: true, previous: r.Attributes as ExportLink | undefined };
    } catch (e) {
      if (!isConditionalFailure(e)) throw e;
      return { granted: false, current: await this.get(storageId, annotationId) };
    }
  }

  /**
   * Records that `version` is now in the target under `key` (never lowers `written_version`) and
   * returns the link as it stands afterwards, so the writer can check whether a newer version was
   * claimed or the annotation was deleted while it wrote.
   */
  async markWritten(storageId: number, annotationId: number, version: number, key: string): Promise<ExportLink | undefined> {
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: exportLinkKey(storageId, annotationId),
          UpdateExpression: 'SET written_version = :v, #key = :key, updated_at = :now',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(written_version) OR written_version <= :v)',
          ExpressionAttributeNames: { '#key': 'key' },
          ExpressionAttributeValues: { ':v': version, ':key': key, ':now': new Date().toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return r.Attributes as ExportLink;
    } catch (e) {
      if (!isConditionalFailure(e)) throw e;
      return this.get(storageId, annotationId);
    }
  }

  /**
   * Claims and records `version` in one conditional write, after the object was written (bulk
   * export sync: one write per annotation instead of two). Refused like `claim` — a newer version
   * claimed or a tombstone — and then returns the link that refused it, so the writer repairs.
   * Safe against claim-first writers: if one of them wrote a newer version before our write landed,
   * it had claimed it first, so this commit is refused and the writer rewrites the newest version.
   */
  async commit(storageId: number, annotationId: number, version: number, key: string): Promise<ClaimResult> {
    try {
      await this.doc.send(new UpdateCommand(this.claimUpdate(storageId, { annotationId, version, key }, new Date().toISOString())));
      return { granted: true };
    } catch (e) {
      if (!isConditionalFailure(e)) throw e;
      return { granted: false, current: await this.get(storageId, annotationId) };
    }
  }

  /**
   * `commit` for many annotations of one storage: conditional updates in transactions of up to
   * 100 (one round trip instead of 100). A transaction cancelled by some refused items is retried
   * without them (bounded); items still undecided after that are committed one by one.
   * Returns the refusals (annotation id → the link that refused); every other entry is committed.
   */
  async commitMany(storageId: number, entries: readonly { annotationId: number; version: number; key: string }[]): Promise<Map<number, ExportLink | undefined>> {
    const refused = new Map<number, ExportLink | undefined>();
    const now = new Date().toISOString();
    const update = (e: { annotationId: number; version: number; key: string }) => ({ Update: this.claimUpdate(storageId, e, now) });
    for (let i = 0; i < entries.length; i += 100) {
      let pending = entries.slice(i, i + 100);
      for (let attempt = 0; pending.length && attempt < 3; attempt++) {
        try {
          await this.doc.send(new TransactWriteCommand({ TransactItems: pending.map(update) }));
          pending = [];
        } catch (e) {
          const reasons = (e as { name?: string; CancellationReasons?: { Code?: string }[] }).CancellationReasons;
          if ((e as { name?: string }).name !== 'TransactionCanceledException' || !reasons) throw e;
          const next: typeof pending = [];
          pending.forEach((p, j) => (reasons[j]?.Code === 'ConditionalCheckFailed' ? refused.set(p.annotationId, undefined) : next.push(p)));
          pending = next;
        }
      }
      for (const p of pending) {
        const r = await this.commit(storageId, p.annotationId, p.version, p.key);
        if (!r.granted) refused.set(p.annotationId, r.current);
      }
    }
    for (const id of refused.keys()) if (refused.get(id) === undefined) refused.set(id, await this.get(storageId, id));
    return refused;
  }

  /**
   * Tombstones the link: no later claim is granted, whatever its version. Returns the link as it
   * was (its `key` is where the object was last written). Idempotent.
   */
  async tombstone(storageId: number, annotationId: number, version: number): Promise<ExportLink | undefined> {
    const now = new Date();
    const r = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: exportLinkKey(storageId, annotationId),
        UpdateExpression:
          'SET #kind = :kind, storageId = :sid, annotationId = :aid, deleted_at = if_not_exists(deleted_at, :now), ' +
          '#version = if_not_exists(#version, :v), #ttl = :ttl, updated_at = :now',
        ExpressionAttributeNames: { '#kind': 'kind', '#version': 'version', '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':kind': ITEM_KINDS.exportLink,
          ':sid': storageId,
          ':aid': annotationId,
          ':v': version,
          ':now': now.toISOString(),
          ':ttl': Math.floor(now.getTime() / 1000) + TOMBSTONE_TTL_SECONDS,
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return r.Attributes as ExportLink | undefined;
  }
}
