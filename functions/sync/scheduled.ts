/**
 * scheduledSync: a storage's `sync_schedule` fired (EventBridge Scheduler with input
 * `{"storageId": n}`; the local timer in `npm start`) → one scheduled run of its full sync.
 */
import { getLogger } from '../../shared/logging';
import { lambdaHandler } from '../../shared/lambda-handler';
import { processApp } from '../../shared/process-app';
import { runScheduledSync } from '../../shared/sync/scheduled-sync';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

export const handler = lambdaHandler('scheduledSync', processApp, async (event: { storageId?: unknown }) => {
  const storageId = event?.storageId;
  if (typeof storageId !== 'number' || !Number.isSafeInteger(storageId) || storageId <= 0) {
    getLogger('scheduledSync').error('scheduled sync event without a valid storageId', { storageId: String(storageId) });
    return { outcome: 'invalid' };
  }
  const app = processApp();
  const outcome = await runScheduledSync({ requestSync: app.requestSyncDeps(), scheduler: app.syncScheduler }, storageId);
  getLogger('scheduledSync').info('scheduled sync run', { storageId, outcome });
  return { outcome };
});
