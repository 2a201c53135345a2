/** syncFinalize: `{storageId, jobId, role, error}` → final status written to the storage. */
import { lambdaHandler } from '../../shared/lambda-handler';
import { getLogger } from '../../shared/logging';
import { countSyncFailure } from '../../shared/metrics';
import { processApp } from '../../shared/process-app';
import { finalizeStep, type FinalizeStepInput } from '../../shared/sync/finalize-step';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

export const handler = lambdaHandler('syncFinalize', processApp, async (event: FinalizeStepInput) => {
  const res = await finalizeStep(processApp().syncDeps(), event);
  if (res.status === 'failed') countSyncFailure();
  getLogger('syncFinalize').info('sync job finished', { jobId: event.jobId, storageId: event.storageId, status: res.status });
  return res;
});
