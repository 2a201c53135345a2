/**
 * Link overlays of ordered storages: the links event sync writes. Pages (repo-link-pages.ts) are
 * authoritative for whole key ranges and only a sync job rewrites them, so a notified object's
 * new link goes into the per-key item the storage's tombstones already use (`TOMB#<storageId>` /
 * `OBJ#<key>`, read with every chunk's range): `ov: true` marks it as a whole link that replaces
 * the pages' entry, `ov_gone: true` as an object removed since the pages were written.
 *
 * The next chunk covering the key folds the overlay into its page and then clears it, on the
 * condition that `ov_at` (the stamp of the overlay's last write) is still the one it read, so an
 * overlay written meanwhile is never lost. `ev_seq` / `ev_time` are the ordering marks of the
 * last event applied to the key (a stale event is skipped).
 */
import { randomUUID } from 'node:crypto';
import { batchWrite, updateIf, type Db } from './repo-common';
import type { LinkItem } from './repo-links';
import { syncKeys } from './sync-keys';

/** What an overlay adds to a link-shaped record. */
export interface OverlayMarks {
  /** A whole link (or removal) that replaces the pages' entry. */
  ov?: boolean;
  /** The object was removed: the key has no link (beyond its tombstone rows, if any). */
  ov_gone?: boolean;
  /** Stamp of the overlay's last write. */
  ov_at?: string;
  /** Ordering mark of the last event applied (S3 sequencer, GCS generation...). */
  ev_seq?: string;
  /** Event time of the last event applied (ISO). */
  ev_time?: string;
}

export type OverlayLink = LinkItem & OverlayMarks;

/** True when a record read from the tombstone partition carries an overlay. */
export function isOverlay(l: LinkItem): l is OverlayLink & { ov: true; ov_at: string } {
  return (l as OverlayLink).ov === true;
}

/** The plain link of an overlay (marks dropped), or undefined for a removal without tombstones. */
export function overlayLink(l: OverlayLink): LinkItem | undefined {
  const { ov: _o, ov_gone: gone, ov_at: _a, ev_seq: _s, ev_time: _t, ...link } = l;
  if (!gone) return link as LinkItem;
  if (!l.tomb?.size) return undefined;
  return { ...(link as LinkItem), rows: 0, idRanges: [], absent: undefined, etag: undefined, size: undefined, mtime: undefined, hash: undefined };
}

/** Ordering marks of one key's event. */
export type EventMarks = Pick<OverlayMarks, 'ev_seq' | 'ev_time'>;

/**
 * Writes overlays (batched full puts): `written` links replace the pages' entries, `gone` keys
 * are recorded as removed. Tombstone rows of written links are kept in the item.
 */
export async function putOverlays(
  db: Db,
  storageId: number,
  written: LinkItem[],
  gone: string[],
  marks: Map<string, EventMarks>,
  concurrency = 4,
): Promise<void> {
  const at = randomUUID();
  const item = (key: string, body: Record<string, unknown>) => {
    const m = marks.get(key) ?? {};
    return { ...syncKeys.tomb(storageId, key), ...body, kind: 'link_overlay', storageId, key, ov: true, ov_at: at, ...(m.ev_seq ? { ev_seq: m.ev_seq } : {}), ...(m.ev_time ? { ev_time: m.ev_time } : {}) };
  };
  const puts = [
    ...written.map((l) => {
      const { tomb, kind: _k, ...rest } = l as OverlayLink;
      const { ov: _o, ov_gone: _g, ov_at: _a, ev_seq: _s, ev_time: _t, ...clean } = rest;
      return item(l.key, { ...clean, ...(tomb?.size ? { tomb } : {}) });
    }),
    ...gone.map((key) => item(key, { ov_gone: true, rows: 0, idRanges: [], single: false, jobId: '', updated_at: new Date().toISOString() })),
  ];
  if (puts.length) await batchWrite(db, puts.map((Item) => ({ PutRequest: { Item } })), { concurrency });
}

/**
 * Clears overlays a chunk folded into its pages. One holding tombstone rows becomes a plain
 * tombstone again, unless rewritten since it was read (`ov_at` differs); the others are deleted in
 * batches — event sync defers every event while a job of the storage runs
 * (repo-pending-events.ts), so none is rewritten under a chunk. Returns how many were cleared.
 */
export async function clearOverlays(db: Db, storageId: number, folded: OverlayLink[], concurrency = 4): Promise<number> {
  let n = 0;
  const plain = folded.filter((l) => !l.tomb?.size);
  if (plain.length) await batchWrite(db, plain.map((l) => ({ DeleteRequest: { Key: syncKeys.tomb(storageId, l.key) } })), { concurrency });
  n += plain.length;
  for (const l of folded.filter((x) => x.tomb?.size)) {
    const ok = await updateIf(db, {
      Key: syncKeys.tomb(storageId, l.key),
      UpdateExpression: 'SET kind = :k REMOVE ov, ov_gone, ov_at, ev_seq, ev_time, etag, size, mtime, #hash, single, #rows, idRanges, absent, failed, jobId, object_exists',
      ConditionExpression: 'ov_at = :at',
      ExpressionAttributeNames: { '#hash': 'hash', '#rows': 'rows' },
      ExpressionAttributeValues: { ':k': 'link_tomb', ':at': l.ov_at },
    });
    if (ok) n++;
  }
  return n;
}
