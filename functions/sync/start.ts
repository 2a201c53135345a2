/** syncStart: `{storageId, jobId, role}` → moves the storage to in_progress and creates the job. */
import { lambdaHandler } from '../../shared/lambda-handler';
import { getLogger } from '../../shared/logging';
import { processApp } from '../../shared/process-app';
import { startStep, type StartStepInput } from '../../shared/sync/start-step';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

export const handler = lambdaHandler('syncStart', processApp, async (event: StartStepInput) => {
  const res = await startStep(processApp().syncDeps(), event);
  getLogger('syncStart').info('sync job started', { jobId: event.jobId, storageId: event.storageId, ...res });
  return res;
});
