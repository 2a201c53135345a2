/**
 * Id plan phase of an import chunk: the ids the new rows need are reserved as one block and
 * stored on the chunk item *before* anything is written, so a retried attempt reuses the plan and
 * its task puts overwrite instead of duplicating.
 */
import { reserveIds } from '../../db/counters';
import { addChunkPlan, chunkPlans, getChunk, type ChunkItem, type ChunkPlan } from '../../db/repo-chunks';
import type { Db } from '../../db/repo-common';
import type { Work } from './types';

/** Ids one object needs: task ids of its new rows, annotation ids of their annotations. */
export interface IdNeed {
  tasks: number;
  anns: number;
}

/** Ids each object of `work` needs (pure): rows past what its link knew, and their annotations. */
export function idNeeds(work: Work[]): Map<string, IdNeed> {
  const needs = new Map<string, IdNeed>();
  for (const w of work) {
    const old = w.link?.rows ?? 0;
    if (w.rows.length <= old) continue;
    let anns = 0;
    for (let pos = old; pos < w.rows.length; pos++) anns += w.rows[pos]?.task?.annotations?.length ?? 0;
    needs.set(w.e.k, { tasks: w.rows.length - old, anns });
  }
  return needs;
}

/**
 * Reserves ids for every object of `needs` not yet in the chunk's stored plans, stores the new
 * plan set-once, and returns the merged plan (earlier attempts' ids win).
 * @throws Error when the chunk disappeared or no plan could be stored after 5 attempts
 */
export async function planIds(db: Db, chunk: ChunkItem, needs: Map<string, IdNeed>): Promise<ChunkPlan> {
  let current = chunkPlans(chunk);
  for (let attempt = 0; attempt < 5; attempt++) {
    const missing = [...needs].filter(([k]) => !(k in current.objects));
    if (!missing.length) return { objects: current.objects };
    const tasks = missing.reduce((a, [, v]) => a + v.tasks, 0);
    const anns = missing.reduce((a, [, v]) => a + v.anns, 0);
    let t = tasks ? await reserveIds(db, 'task', tasks) : 0;
    let a = anns ? await reserveIds(db, 'annotation', anns) : 0;
    const plan: ChunkPlan = { objects: {} };
    for (const [k, v] of missing) {
      plan.objects[k] = [t, v.tasks, a, v.anns];
      t += v.tasks;
      a += v.anns;
    }
    if (await addChunkPlan(db, chunk.jobId, chunk.n, current.count, plan)) {
      return { objects: { ...plan.objects, ...current.objects } };
    }
    const again = await getChunk(db, chunk.jobId, chunk.n);
    if (!again) throw new Error(`chunk ${chunk.n} of job ${chunk.jobId} disappeared`);
    current = chunkPlans(again);
  }
  throw new Error(`could not store an id plan for chunk ${chunk.n} after 5 attempts`);
}
