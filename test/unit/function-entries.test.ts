/**
 * Every function's entry module builds its exported handler with the observability wrapper
 * (`lambdaHandler`, or `createApiHandler` for the HTTP functions), so every invocation logs with
 * the Lambda context (function, request id, cold start) and flushes its metrics.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../functions/manifest';

describe('function entry modules', () => {
  it.each(Object.entries(FUNCTIONS))('%s wraps its handler with lambdaHandler or createApiHandler', (_name, fn) => {
    const source = readFileSync(new URL(`../../${fn.entry}`, import.meta.url), 'utf8');
    expect(source).toMatch(/export const handler = (lambdaHandler|createApiHandler)\(/);
  });
});
