import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../functions/manifest';
import { actionsOf, getAtt, lambdaId, ofType, synth, type Synthesized } from './synth';

let s: Synthesized;
beforeAll(() => {
  s = synth();
});

/** The rules that target the sweeper (other rules schedule the export replay and react to failed executions). */
const sweeperRules = () =>
  ofType(s.resources, 'AWS::Events::Rule').filter(([, r]) =>
    (r.Properties.Targets ?? []).some((t: any) => JSON.stringify(t.Arn) === JSON.stringify(getAtt(lambdaId(s.resources, 'sweeper'), 'Arn'))));

describe('schedules: the sweeper', () => {
  it('one EventBridge rule at the manifest rate targets the sweeper function', () => {
    const rules = sweeperRules();
    expect(rules).toHaveLength(1);
    const rule = rules[0][1].Properties;
    expect(FUNCTIONS.sweeper.everyMinutes).toBe(5);
    expect(rule.ScheduleExpression).toBe('rate(5 minutes)');
    expect(rule.State ?? 'ENABLED').toBe('ENABLED');
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0].Arn).toEqual(getAtt(lambdaId(s.resources, 'sweeper'), 'Arn'));
    // The next run resumes a failed one; a retry could overlap it.
    expect(rule.Targets[0].RetryPolicy.MaximumRetryAttempts).toBe(0);
  });

  it('EventBridge may invoke the sweeper (from that rule only), without async retries', () => {
    const fnId = lambdaId(s.resources, 'sweeper');
    const [[ruleId]] = sweeperRules();
    const perms = ofType(s.resources, 'AWS::Lambda::Permission').filter(([, p]) => p.Properties.Principal === 'events.amazonaws.com' && JSON.stringify(p.Properties.FunctionName) === JSON.stringify(getAtt(fnId, 'Arn')));
    expect(perms).toHaveLength(1);
    expect(perms[0][1].Properties.FunctionName).toEqual(getAtt(fnId, 'Arn'));
    expect(perms[0][1].Properties.SourceArn).toEqual(getAtt(ruleId, 'Arn'));
    const configs = ofType(s.resources, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) => c.Properties.FunctionName?.Ref === fnId);
    expect(configs).toHaveLength(1);
    expect(configs[0][1].Properties).toMatchObject({ FunctionName: { Ref: fnId }, MaximumRetryAttempts: 0 });
  });

  it('the sweeper touches the table only: no KMS, S3, STS, SQS or state machine', () => {
    const actions = [...actionsOf(s.resources, 'sweeper')];
    expect(actions).toContain('dynamodb:BatchWriteItem');
    expect(actions).toContain('dynamodb:Query');
    expect(actions.filter((a) => /^(kms|s3|sts|sqs|states):/.test(a))).toEqual([]);
    // A run ends before the next one starts.
    expect(FUNCTIONS.sweeper.timeout).toBeLessThan(FUNCTIONS.sweeper.everyMinutes! * 60);
  });
});
