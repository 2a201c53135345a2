/**
 * syncExecutionFailed: EventBridge "Step Functions Execution Status Change" (FAILED, TIMED_OUT,
 * ABORTED) of the sync state machine → marks the job's storage failed if nothing else did.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { getLogger } from '../../shared/logging';
import { lambdaHandler } from '../../shared/lambda-handler';
import { processApp } from '../../shared/process-app';
import { finalizeFailedExecution, type ExecutionStatusDetail } from '../../shared/sync/execution-failed';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

export const handler = lambdaHandler('syncExecutionFailed', processApp, async (event: EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusDetail>) => {
  const res = await finalizeFailedExecution(processApp().syncDeps(), event.detail);
  getLogger('syncExecutionFailed').info('sync execution ended without a final status', { executionArn: event.detail.executionArn, status: event.detail.status, ...res });
  return res;
});
