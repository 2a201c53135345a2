/**
 * The AWS-strict DynamoDB knobs: LABELSYNC_STRICT_THROTTLE_RATE (a probability) and
 * LABELSYNC_STRICT_TRANSACTION_HOLD_MS (ms, 0 allowed), parsed once with the rest of the
 * environment; a bad value fails the start naming the variable.
 */
import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../shared/config/env';

const BASE = { LABELSYNC_TABLE: 't' };

describe('AWS-strict DynamoDB variables', () => {
  it('default to no throttling and no extra lock hold', () => {
    expect(parseEnv(BASE)).toMatchObject({ strictThrottleRate: 0, strictTransactionHoldMs: 0 });
  });

  it('accept a rate in 0..1 and a hold >= 0', () => {
    expect(parseEnv({ ...BASE, LABELSYNC_STRICT_THROTTLE_RATE: '0.3', LABELSYNC_STRICT_TRANSACTION_HOLD_MS: '5' })).toMatchObject({ strictThrottleRate: 0.3, strictTransactionHoldMs: 5 });
    expect(parseEnv({ ...BASE, LABELSYNC_STRICT_THROTTLE_RATE: '1', LABELSYNC_STRICT_TRANSACTION_HOLD_MS: '0' })).toMatchObject({ strictThrottleRate: 1, strictTransactionHoldMs: 0 });
  });

  it('refuse a rate outside 0..1 and a negative or fractional hold, naming each variable', () => {
    expect(() => parseEnv({ ...BASE, LABELSYNC_STRICT_THROTTLE_RATE: '30%', LABELSYNC_STRICT_TRANSACTION_HOLD_MS: '-5' })).toThrow(
      /LABELSYNC_STRICT_THROTTLE_RATE must be a number between 0 and 1, got '30%'.*LABELSYNC_STRICT_TRANSACTION_HOLD_MS must be an integer >= 0, got '-5'/,
    );
    expect(() => parseEnv({ ...BASE, LABELSYNC_STRICT_THROTTLE_RATE: '1.5' })).toThrow(/LABELSYNC_STRICT_THROTTLE_RATE/);
    expect(() => parseEnv({ ...BASE, LABELSYNC_STRICT_TRANSACTION_HOLD_MS: '2.5' })).toThrow(/LABELSYNC_STRICT_TRANSACTION_HOLD_MS/);
  });
});
