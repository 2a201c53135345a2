import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';
import { scheduleNameOf } from '../../shared/sync/sync-scheduler';
import { actionsOf, getAtt, lambdaId, ofType, roleStatements, statementsOf, synth, type Statement, type Synthesized } from './synth';

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

/*
 * Storage sync schedules in the stack: the schedule group, the scheduler execution role (invokes
 * scheduledSync and nothing else, assumable by this account's schedules only), and who may manage
 * schedules: storages creates/updates/deletes them in that group and passes that role only;
 * project deletion (projects, sweeper) and scheduledSync may only delete them.
 */
const NAMES = Object.keys(FUNCTIONS) as FunctionName[];
const group = () => ofType(s.resources, 'AWS::Scheduler::ScheduleGroup');
const groupName = () => group()[0][1].Properties.Name as string;
const executionRole = () => {
  const roles = ofType(s.resources, 'AWS::IAM::Role').filter(([, r]) =>
    (r.Properties.AssumeRolePolicyDocument.Statement as Statement[]).some((st: any) => st.Principal?.Service === 'scheduler.amazonaws.com'));
  expect(roles).toHaveLength(1);
  return roles[0];
};
const schedulesArn = (resource: unknown) => JSON.stringify(resource);

describe('sync schedules: group and execution role', () => {
  it('the stack creates one schedule group, and storage schedule names fit Scheduler', () => {
    expect(group()).toHaveLength(1);
    expect(groupName()).toBe('labelsync-Labelsync-sync');
    expect(scheduleNameOf('labelsync-Labelsync', 123456789012)).toBe('labelsync-Labelsync-storage-123456789012');
    expect(scheduleNameOf(`labelsync-${'x'.repeat(80)}`, 7)).toMatch(/^[0-9A-Za-z._-]{1,64}$/);
  });

  it('the execution role may invoke scheduledSync only, and only this account\'s schedules of the group may assume it', () => {
    const [roleId, role] = executionRole();
    expect(roleStatements(s.resources, roleId)).toEqual([{ action: 'lambda:InvokeFunction', resource: getAtt(lambdaId(s.resources, 'scheduledSync'), 'Arn') }]);
    const [trust] = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(trust.Condition.StringEquals['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    expect(JSON.stringify(trust.Condition.ArnLike['aws:SourceArn'])).toContain(`:schedule/${groupName()}/*`);
  });

  it('scheduledSync runs without async retries (a retry could overlap the next run)', () => {
    const fnId = lambdaId(s.resources, 'scheduledSync');
    const configs = ofType(s.resources, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) => c.Properties.FunctionName?.Ref === fnId);
    expect(configs).toHaveLength(1);
    expect(configs[0][1].Properties.MaximumRetryAttempts).toBe(0);
  });
});

describe('sync schedules: IAM of the functions', () => {
  it('only storages creates and updates schedules, in the group only, and passes the execution role only (to Scheduler)', () => {
    for (const name of NAMES) {
      const a = actionsOf(s.resources, name);
      const manage = a.has('scheduler:CreateSchedule') || a.has('scheduler:UpdateSchedule') || a.has('iam:PassRole');
      expect(manage, name).toBe(name === 'storages');
    }
    const st = statementsOf(s.resources, 'storages');
    for (const action of ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule']) {
      const on = st.filter((x) => x.action === action);
      expect(on, action).toHaveLength(1);
      expect(schedulesArn(on[0].resource)).toContain(`:schedule/${groupName()}/*`);
    }
    const pass = st.filter((x) => x.action === 'iam:PassRole');
    expect(pass).toEqual([{ action: 'iam:PassRole', resource: getAtt(executionRole()[0], 'Arn') }]);
  });

  it('project deletion and scheduledSync may delete schedules of the group, nothing more', () => {
    const deleters = NAMES.filter((n) => actionsOf(s.resources, n).has('scheduler:DeleteSchedule')).sort();
    expect(deleters).toEqual(['projects', 'scheduledSync', 'storages', 'sweeper']);
    for (const name of ['projects', 'sweeper', 'scheduledSync'] as const) {
      const sched = statementsOf(s.resources, name).filter((x) => x.action.startsWith('scheduler:'));
      expect(sched.map((x) => x.action), name).toEqual(['scheduler:DeleteSchedule']);
      expect(schedulesArn(sched[0].resource)).toContain(`:schedule/${groupName()}/*`);
    }
  });

  it('the functions get the variables the app reads: group and prefix to remove, target and role to create', () => {
    const vars = (n: FunctionName) => s.resources[lambdaId(s.resources, n)].Properties.Environment.Variables;
    const storages = vars('storages');
    expect(storages.LABELSYNC_SCHEDULE_GROUP).toBe(groupName());
    expect(storages.LABELSYNC_SCHEDULE_NAME_PREFIX).toBe('labelsync-Labelsync');
    expect(storages.LABELSYNC_SCHEDULED_SYNC_ARN).toEqual(getAtt(lambdaId(s.resources, 'scheduledSync'), 'Arn'));
    expect(storages.LABELSYNC_SCHEDULER_ROLE_ARN).toEqual(getAtt(executionRole()[0], 'Arn'));
    for (const name of ['projects', 'sweeper', 'scheduledSync'] as const) {
      expect(vars(name).LABELSYNC_SCHEDULE_GROUP, name).toBe(groupName());
      expect(vars(name).LABELSYNC_SCHEDULED_SYNC_ARN, name).toBeUndefined();
    }
  });
});
