/** syncFinalize: `{storageId, jobId, role, error}` → final status written to the storage. */
import { getLogger } from '../../shared/logging';
import { syncDeps } from '../../shared/sync/context';
import { finalizeStep, type FinalizeStepInput } from '../../shared/sync/finalize-step';
import '../../shared/sync/export-wiring';

export const handler = async (event: FinalizeStepInput) => {
  const res = await finalizeStep(syncDeps(), event);
  getLogger('syncFinalize').info('sync job finished', { jobId: event.jobId, storageId: event.storageId, status: res.status });
  return res;
};
