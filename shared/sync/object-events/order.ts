/**
 * Event order (pure): which of two events of one key is newer, and the newest event per key of a
 * burst. Sequencers (S3's hex `sequencer`, GCS's decimal generation) compare as numbers of any
 * length: left-padded to equal length, then lexicographically — S3 documents exactly that. Without
 * sequencers on both sides, event times decide; without those, the later arrival wins.
 */
import { compareUtf8 } from '../../storage/common';
import type { ObjectEvent } from './types';

/** Ordering marks of the last event applied to a key (stored with its link overlay). */
export interface Marks {
  seq?: string;
  time?: string;
}

/** <0, 0, >0 as sequencer `a` is older, equal or newer than `b`. */
export function compareSequencers(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  const pa = a.toLowerCase().padStart(n, '0');
  const pb = b.toLowerCase().padStart(n, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/** <0, 0, >0 as `a` is older, equally old (or not comparable) or newer than `b`. */
export function compareMarks(a: Marks, b: Marks): number {
  if (a.seq && b.seq) return compareSequencers(a.seq, b.seq);
  if (a.time && b.time) {
    const ta = Date.parse(a.time);
    const tb = Date.parse(b.time);
    if (Number.isFinite(ta) && Number.isFinite(tb)) return Math.sign(ta - tb);
  }
  return 0;
}

/** The marks of an event. */
export const marksOf = (e: ObjectEvent): Marks => ({ seq: e.sequencer, time: e.eventTime });

/**
 * The newest event per key (pure), in key order. Of two events that compare equal the later one
 * in `events` wins (arrival order), except that a "removed" never displaces a "created" with the
 * same sequencer (S3 gives a delete marker its own, larger, sequencer).
 */
export function newestPerKey(events: ObjectEvent[]): ObjectEvent[] {
  const out = new Map<string, ObjectEvent>();
  for (const e of events) {
    const had = out.get(e.key);
    if (!had) {
      out.set(e.key, e);
      continue;
    }
    const c = compareMarks(marksOf(e), marksOf(had));
    if (c > 0 || (c === 0 && !(e.sequencer && e.sequencer === had.sequencer && e.kind === 'removed'))) out.set(e.key, e);
  }
  return [...out.values()].sort((a, b) => compareUtf8(a.key, b.key));
}

/** True when an event with `marks` is older than what was applied to its key (`applied`). */
export function isStale(marks: Marks, applied: Marks | undefined): boolean {
  return !!applied && compareMarks(marks, applied) < 0;
}
