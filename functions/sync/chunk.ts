/** syncChunk: `{storageId, jobId, role, chunk}` → small summary; per-object failures are recorded on the job. */
import { lambdaHandler } from '../../shared/lambda-handler';
import { getLogger } from '../../shared/logging';
import { countObjectsSynced } from '../../shared/metrics';
import { chunkStep, type ChunkStepInput } from '../../shared/sync/chunk-step';
import { processApp } from '../../shared/process-app';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

export const handler = lambdaHandler('syncChunk', processApp, async (event: ChunkStepInput) => {
  const res = await chunkStep(processApp().syncDeps(), event);
  countObjectsSynced((res.counters?.processed ?? 0) - (res.counters?.failed ?? 0));
  getLogger('syncChunk').debug('chunk', { jobId: event.jobId, storageId: event.storageId, chunk: event.chunk, status: res.status });
  return { chunk: res.chunk, status: res.status };
});
