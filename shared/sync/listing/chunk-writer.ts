/**
 * Stores the chunks a listing step cuts, pipelined with the listing: full chunks are written as
 * the listing goes (memory stays one chunk group, whatever the size of the storage), except the
 * newest one, held back because whether it is the listing's open-ended last chunk is known only at
 * the end. Groups of 25 are digest-checked and written while the listing goes on (at most one
 * group in flight): on an unchanged re-sync the listing then barely waits for the table.
 */
import { putChunks } from '../../db/repo-chunks';
import type { Db } from '../../db/repo-common';
import { getChunkDigestJobs, putChunkDigests } from '../../db/repo-digests';
import { isOverlay } from '../../db/repo-link-overlays';
import { inRange } from '../../db/repo-link-pages';
import { queryTombRange } from '../../db/repo-links';
import { compareUtf8 } from '../../storage/common';
import { chunkDigest, dedupe } from '../import-chunk/digest';
import type { DigestTrust, NewChunk } from './listing-source';

/** A stored chunk handed to the chunk step. */
export interface ChunkRef {
  jobId: string;
  chunk: number;
}

/** Chunks written per group (one BatchWriteItem). */
const GROUP = 25;

export class ChunkWriter {
  /** Chunks stored and handed over, in order. */
  readonly refs: ChunkRef[] = [];
  /** Chunks queued for storing so far (digest-skipped ones included). */
  planned = 0;
  unchangedChunks = 0;
  unchangedObjects = 0;
  private held: NewChunk | undefined;
  private readonly queued: NewChunk[] = [];
  private inFlight = 0;
  private storing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly storageId: number,
    private readonly jobId: string,
    private readonly trust: DigestTrust | undefined,
  ) {}

  /** Adds the next chunk; the previous one is queued for writing. */
  add(c: NewChunk): void {
    if (this.held) this.queued.push(this.held);
    this.held = c;
  }

  /** The chunk held back (the newest), if any. */
  get last(): NewChunk | undefined {
    return this.held;
  }

  /**
   * Starts writing the queued chunks once a group is full (waiting for the group in flight);
   * `final` also releases the held chunk and waits until everything is stored.
   * @throws the error of a failed write (of this group or the one before)
   */
  async flush(final: boolean): Promise<void> {
    if (final && this.held) {
      this.queued.push(this.held);
      this.held = undefined;
    }
    if (this.queued.length < GROUP && !final) return;
    const batch = this.queued.splice(0);
    this.planned += batch.length;
    await this.storing;
    this.inFlight = batch.length;
    this.storing = this.store(batch).finally(() => (this.inFlight = 0));
    // Awaited by the next flush or the step's end; the no-op handler keeps a failure from being
    // reported as unhandled meanwhile (it is still thrown where the promise is awaited).
    this.storing.catch(() => undefined);
    if (final) await this.storing;
  }

  /** Chunks that go to the chunk Lambdas: digest-skipped ones do not count against a step's budget. */
  handedOver(): number {
    return this.refs.length + (this.trust ? 0 : this.inFlight + this.queued.length);
  }

  /** Waits until no write is in flight, ignoring its failure (nothing of a failed step may still be writing when it is retried). */
  async settle(): Promise<void> {
    await this.storing.catch(() => undefined);
  }

  private async store(batch: NewChunk[]): Promise<void> {
    if (this.trust && batch.length) batch = await this.skipUnchanged(batch, this.trust);
    await putChunks(this.db, batch);
    for (const c of batch) this.refs.push({ jobId: this.jobId, chunk: c.n });
  }

  /** Records the digests of chunks the previous clean job left as they are, and returns the others. */
  private async skipUnchanged(batch: NewChunk[], trust: DigestTrust): Promise<NewChunk[]> {
    const unique = batch.map((c) => dedupe(c.entries));
    const digests = batch.map((c, i) => chunkDigest(c, unique[i], trust.mode));
    const [jobs, overlays] = await Promise.all([getChunkDigestJobs(this.db, this.storageId, digests), overlayKeysOf(this.db, this.storageId, batch)]);
    // A range event sync changed since (its overlays) is not what the digest vouches for.
    const touched = (c: NewChunk) => c.ordered && overlays.some((k) => inRange(k, c.from, c.to));
    const same = batch.map((c, i) => jobs.get(digests[i]) === trust.job && !touched(c));
    const hits = digests.filter((_, i) => same[i]);
    if (!hits.length) return batch;
    await putChunkDigests(this.db, this.storageId, hits, this.jobId);
    this.unchangedChunks += hits.length;
    this.unchangedObjects += unique.filter((_, i) => same[i]).reduce((a, u) => a + u.length, 0);
    return batch.filter((_, i) => !same[i]);
  }
}

/** Keys with event-sync overlays in the key span of an ordered batch (one Query), else none. */
async function overlayKeysOf(db: Db, storageId: number, batch: NewChunk[]): Promise<string[]> {
  const ordered = batch.filter((c) => c.ordered);
  if (!ordered.length) return [];
  const from = ordered.some((c) => c.from === null) ? null : ordered.map((c) => c.from!).sort(compareUtf8)[0];
  const to = ordered.some((c) => c.to === null) ? null : ordered.map((c) => c.to!).sort(compareUtf8).pop()!;
  const tombs = await queryTombRange(db, storageId, from, to);
  return [...tombs.values()].filter(isOverlay).map((l) => l.key);
}
