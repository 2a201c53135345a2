/**
 * A state's failure as Step Functions reports it: `name` is the Error, `message` the Cause.
 * `States.DataLimitExceeded` and `States.Runtime` are terminal: a Retry or Catch on `States.ALL`
 * does not match them (only one naming them does).
 */
export class StatesError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/** The execution ended because it was stopped (LocalStateMachine's abort, a server shutting down). */
export class ExecutionAbortedError extends Error {
  constructor() {
    super('Execution aborted');
    this.name = 'ExecutionAbortedError';
  }
}

export const TERMINAL_ERRORS: readonly string[] = ['States.DataLimitExceeded', 'States.Runtime'];

/** Any thrown value as Step Functions' `{Error, Cause}`. */
export function errorOutput(e: unknown): { Error: string; Cause: string } {
  if (e instanceof Error) return { Error: e.name || 'Error', Cause: e.message };
  return { Error: 'Error', Cause: String(e) };
}

/**
 * Whether a Retry/Catch `ErrorEquals` list matches `error`. `States.TaskFailed` matches any error
 * of a Task except `States.Timeout`; `States.ALL` anything but the terminal errors.
 */
export function errorMatches(errorEquals: readonly string[], error: string, fromTask: boolean): boolean {
  return errorEquals.some((e) => {
    if (e === error) return true;
    if (e === 'States.ALL') return !TERMINAL_ERRORS.includes(error);
    if (e === 'States.TaskFailed') return fromTask && error !== 'States.Timeout' && !TERMINAL_ERRORS.includes(error);
    return false;
  });
}
