/**
 * syncList: `{storageId, jobId, role, token}` → `{token, done, chunks, listed}`. Lists until 30 s
 * before the Lambda's own timeout at the latest (the step's time box is usually shorter).
 */
import type { Context } from 'aws-lambda';
import { lambdaHandler } from '../../shared/lambda-handler';
import { processApp } from '../../shared/process-app';
import { listStep, type ListStepInput } from '../../shared/sync/list-step';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

export const handler = lambdaHandler('syncList', processApp, async (event: ListStepInput, context: Context) => {
  const remaining = context.getRemainingTimeInMillis?.() ?? 300_000;
  return listStep(processApp().syncDeps(), event, Date.now() + Math.max(1_000, remaining - 30_000));
});
