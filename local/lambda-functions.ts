/**
 * The manifest's functions as local, in-process "Lambdas": each handler module is imported once
 * (one warm container per function) and invoked with a Lambda-like context whose
 * `getRemainingTimeInMillis()` counts down from the function's manifest timeout, so time-boxed
 * steps stop where they would in AWS. An invocation that outlives its timeout is reported as
 * `Sandbox.Timedout`, as Lambda does (the local handler cannot be killed, it is only abandoned).
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { FUNCTIONS, type FunctionName } from '../functions/manifest';
import { runAsFunction } from '../shared/aws/call-recorder';
import { LOCAL_ACCOUNT_ID } from './apigw-event';

/** Repository root (the manifest's entry paths are relative to it). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/** A handler as the functions export it. */
export type LambdaHandler = (event: unknown, context: Context) => unknown;

/** Resolves a function name to its handler; tests inject stubs through this type. */
export type HandlerResolver = (name: FunctionName) => Promise<LambdaHandler>;

/** Local function name, as CDK would name it in the stack (readable in logs only). */
export const localFunctionName = (name: FunctionName): string => `labelsync-${name}`;

export function localFunctionArn(name: FunctionName, region: string): string {
  return `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${localFunctionName(name)}`;
}

const loaded = new Map<FunctionName, Promise<LambdaHandler>>();

/**
 * Imports the manifest entry of `name` once and returns its `handler` export.
 * Throws when the module has no `handler` function.
 */
export const importHandler: HandlerResolver = (name) => {
  let p = loaded.get(name);
  if (!p) {
    p = (async () => {
      const mod = (await import(pathToFileURL(resolve(REPO_ROOT, FUNCTIONS[name].entry)).href)) as { handler?: unknown };
      if (typeof mod.handler !== 'function') throw new Error(`${FUNCTIONS[name].entry} does not export a handler function`);
      return mod.handler as LambdaHandler;
    })();
    // A failed import is not cached: the file may be fixed while `npm start` runs under a watcher.
    p.catch(() => loaded.delete(name));
    loaded.set(name, p);
  }
  return p;
};

/** Error of an invocation, shaped like Lambda's `{errorType, errorMessage, trace}`. */
export class LambdaInvocationError extends Error {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: string[];
  constructor(errorType: string, errorMessage: string, trace: string[] = []) {
    super(errorMessage);
    this.name = errorType;
    this.errorType = errorType;
    this.errorMessage = errorMessage;
    this.trace = trace;
  }
  /** The `Cause` string Step Functions records for a failed Lambda task. */
  stepFunctionsCause(): string {
    return JSON.stringify({ errorType: this.errorType, errorMessage: this.errorMessage, trace: this.trace });
  }
}

export function lambdaContext(name: FunctionName, region: string, deadline: number, requestId = randomUUID()): Context {
  const fn = localFunctionName(name);
  const fail = () => {
    throw new Error('callback-style completion is not supported by the local runtime');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn,
    functionVersion: '$LATEST',
    invokedFunctionArn: localFunctionArn(name, region),
    memoryLimitInMB: String(FUNCTIONS[name].memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn}`,
    logStreamName: `local/[$LATEST]${requestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: fail,
    fail,
    succeed: fail,
  };
}

/**
 * Invokes `handler` as Lambda would invoke function `name`: a fresh context, the manifest timeout,
 * errors normalised to {@link LambdaInvocationError} (name = the thrown error's name).
 * `timeoutSeconds` overrides the manifest timeout (tests).
 */
export async function invokeLocal(
  name: FunctionName,
  handler: LambdaHandler,
  event: unknown,
  opts: { region: string; timeoutSeconds?: number },
): Promise<unknown> {
  const timeoutMs = (opts.timeoutSeconds ?? FUNCTIONS[name].timeout) * 1000;
  const deadline = Date.now() + timeoutMs;
  const context = lambdaContext(name, opts.region, deadline);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LambdaInvocationError('Sandbox.Timedout', `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)),
      timeoutMs,
    );
    timer.unref();
  });
  try {
    // The AWS calls of the invocation are attributed to `name` (the IAM evaluation's recorder).
    return await Promise.race([runAsFunction(name, () => Promise.resolve().then(() => handler(event, context))), timedOut]);
  } catch (e) {
    if (e instanceof LambdaInvocationError) throw e;
    const err = e instanceof Error ? e : new Error(String(e));
    throw new LambdaInvocationError(err.name || 'Error', err.message, (err.stack ?? '').split('\n'));
  } finally {
    clearTimeout(timer);
  }
}
