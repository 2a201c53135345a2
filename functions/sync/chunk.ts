/** syncChunk: `{storageId, jobId, role, chunk}` → small summary; per-object failures are recorded on the job. */
import { getLogger } from '../../shared/logging';
import { chunkStep, type ChunkStepInput } from '../../shared/sync/chunk-step';
import { syncDeps } from '../../shared/sync/context';
import '../../shared/sync/export-wiring';

export const handler = async (event: ChunkStepInput) => {
  const res = await chunkStep(syncDeps(), event);
  getLogger('syncChunk').debug('chunk', { jobId: event.jobId, storageId: event.storageId, chunk: event.chunk, status: res.status });
  return { chunk: res.chunk, status: res.status };
};
