/** sweeper (scheduled): finishes deleting projects whose delete request ran out of time. */
import type { Context } from 'aws-lambda';
import { sweepDeletedProjects } from '../../shared/api/project-sweep';
import { getLogger } from '../../shared/logging';
import { lambdaHandler } from '../../shared/lambda-handler';
import { processApp } from '../../shared/process-app';
import { FUNCTIONS } from '../manifest';

// At module scope: a bad environment fails the cold start, naming the variable.
processApp();

/** Stops starting new work this long before the Lambda timeout: the page in progress must still finish. */
const SAFETY_MS = 30_000;

export const handler = lambdaHandler('sweeper', processApp, async (_event: unknown, context: Context) => {
  const remaining = context?.getRemainingTimeInMillis?.() ?? FUNCTIONS.sweeper.timeout * 1000;
  const res = await sweepDeletedProjects(processApp(), Date.now() + Math.max(0, remaining - SAFETY_MS));
  if (res.projects) getLogger('sweeper').info('deleted projects swept', { ...res });
  return res;
});
