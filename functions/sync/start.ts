/** syncStart: `{storageId, jobId, role}` → moves the storage to in_progress and creates the job. */
import { getLogger } from '../../shared/logging';
import { syncDeps } from '../../shared/sync/context';
import { startStep, type StartStepInput } from '../../shared/sync/start-step';
import '../../shared/sync/export-wiring';

export const handler = async (event: StartStepInput) => {
  const res = await startStep(syncDeps(), event);
  getLogger('syncStart').info('sync job started', { jobId: event.jobId, storageId: event.storageId, ...res });
  return res;
};
