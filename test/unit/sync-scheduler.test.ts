/**
 * The AWS SyncScheduler and its configuration. EventBridge Scheduler has no emulator here: a fake
 * client records the commands the real SDK client would send and answers as Scheduler does
 * (ConflictException for an existing name, ResourceNotFoundException for a missing one).
 */
import { CreateScheduleCommand, DeleteScheduleCommand, UpdateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../shared/app';
import { parseEnv } from '../../shared/config/env';
import { ScheduleError } from '../../shared/errors';
import { EventBridgeSyncScheduler } from '../../shared/sync/eventbridge-scheduler';

const CONFIG = {
  region: 'eu-west-1',
  groupName: 'labelsync-Prod-sync',
  namePrefix: 'labelsync-Prod',
  targetArn: 'arn:aws:lambda:eu-west-1:123456789012:function:scheduledSync',
  roleArn: 'arn:aws:iam::123456789012:role/scheduler',
};

const awsError = (name: string) => Object.assign(new Error(name), { name });

/** A Scheduler stand-in: schedules by name; `fail` throws that error for every call. */
function fakeScheduler(fail?: string) {
  const schedules = new Map<string, Record<string, any>>();
  const sent: string[] = [];
  const client = {
    async send(cmd: { input: Record<string, any> }) {
      const name = String(cmd.input.Name);
      sent.push(`${cmd.constructor.name} ${cmd.input.GroupName}/${name}`);
      if (fail) throw awsError(fail);
      if (cmd instanceof CreateScheduleCommand) {
        if (schedules.has(name)) throw awsError('ConflictException');
        schedules.set(name, cmd.input as Record<string, any>);
      } else if (cmd instanceof UpdateScheduleCommand) {
        if (!schedules.has(name)) throw awsError('ResourceNotFoundException');
        schedules.set(name, cmd.input as Record<string, any>);
      } else if (cmd instanceof DeleteScheduleCommand) {
        if (!schedules.delete(name)) throw awsError('ResourceNotFoundException');
      }
      return {};
    },
  };
  return { client: client as unknown as SchedulerClient, schedules, sent };
}

describe('EventBridgeSyncScheduler', () => {
  it('creates one UTC schedule per storage targeting scheduledSync with {storageId}, replaces it on change, deletes it', async () => {
    const f = fakeScheduler();
    const s = new EventBridgeSyncScheduler(CONFIG, f.client);
    await s.put(7, 'rate(5 minutes)');
    expect(f.schedules.get('labelsync-Prod-storage-7')).toEqual({
      Name: 'labelsync-Prod-storage-7',
      GroupName: 'labelsync-Prod-sync',
      ScheduleExpression: 'rate(5 minutes)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: { Arn: CONFIG.targetArn, RoleArn: CONFIG.roleArn, Input: '{"storageId":7}', RetryPolicy: { MaximumRetryAttempts: 0 } },
    });
    await s.put(7, 'cron(0 6 ? * MON-FRI *)');
    expect(f.schedules.get('labelsync-Prod-storage-7')?.ScheduleExpression).toBe('cron(0 6 ? * MON-FRI *)');
    await s.remove(7);
    await s.remove(7); // already gone: no error
    expect(f.schedules.size).toBe(0);
    expect(f.sent).toEqual([
      'CreateScheduleCommand labelsync-Prod-sync/labelsync-Prod-storage-7',
      'CreateScheduleCommand labelsync-Prod-sync/labelsync-Prod-storage-7',
      'UpdateScheduleCommand labelsync-Prod-sync/labelsync-Prod-storage-7',
      'DeleteScheduleCommand labelsync-Prod-sync/labelsync-Prod-storage-7',
      'DeleteScheduleCommand labelsync-Prod-sync/labelsync-Prod-storage-7',
    ]);
  });

  it('a Scheduler failure is a ScheduleError naming the schedule (no SDK error reaches the caller)', async () => {
    const s = new EventBridgeSyncScheduler(CONFIG, fakeScheduler('AccessDeniedException').client);
    await expect(s.put(9, 'rate(1 hour)')).rejects.toThrow(ScheduleError);
    await expect(s.put(9, 'rate(1 hour)')).rejects.toThrow('The sync schedule labelsync-Prod-storage-9 could not be saved (AccessDeniedException)');
    await expect(s.remove(9)).rejects.toThrow('The sync schedule labelsync-Prod-storage-9 could not be deleted (AccessDeniedException)');
  });

  it('without target and role (a function that may only delete) creating is refused before any call', async () => {
    const f = fakeScheduler();
    const s = new EventBridgeSyncScheduler({ region: 'eu-west-1', groupName: CONFIG.groupName, namePrefix: CONFIG.namePrefix }, f.client);
    await expect(s.put(3, 'rate(1 hour)')).rejects.toThrow('LABELSYNC_SCHEDULED_SYNC_ARN and LABELSYNC_SCHEDULER_ROLE_ARN are not set');
    await s.remove(3);
    expect(f.sent).toEqual(['DeleteScheduleCommand labelsync-Prod-sync/labelsync-Prod-storage-3']);
  });
});

describe('scheduler configuration', () => {
  const BASE = { LABELSYNC_TABLE: 't' };
  const ALL = {
    LABELSYNC_SCHEDULE_GROUP: CONFIG.groupName,
    LABELSYNC_SCHEDULE_NAME_PREFIX: CONFIG.namePrefix,
    LABELSYNC_SCHEDULED_SYNC_ARN: CONFIG.targetArn,
    LABELSYNC_SCHEDULER_ROLE_ARN: CONFIG.roleArn,
  };

  it('all four variables, the two of a deleting function, or none', () => {
    expect(parseEnv({ ...BASE, ...ALL }).syncSchedules).toEqual({ groupName: CONFIG.groupName, namePrefix: CONFIG.namePrefix, targetArn: CONFIG.targetArn, roleArn: CONFIG.roleArn });
    expect(parseEnv({ ...BASE, LABELSYNC_SCHEDULE_GROUP: 'g', LABELSYNC_SCHEDULE_NAME_PREFIX: 'p' }).syncSchedules).toEqual({ groupName: 'g', namePrefix: 'p' });
    expect(parseEnv(BASE).syncSchedules).toBeUndefined();
    expect(createApp(BASE).syncScheduler).toBeUndefined();
    expect(createApp({ ...BASE, ...ALL }).syncScheduler).toBeInstanceOf(EventBridgeSyncScheduler);
  });

  it('a partial set stops the start naming the missing variables', () => {
    expect(() => parseEnv({ ...BASE, LABELSYNC_SCHEDULE_GROUP: 'g' })).toThrow('LABELSYNC_SCHEDULE_NAME_PREFIX must be set together with LABELSYNC_SCHEDULE_GROUP');
    expect(() => parseEnv({ ...BASE, LABELSYNC_SCHEDULED_SYNC_ARN: 'a', LABELSYNC_SCHEDULER_ROLE_ARN: 'r' })).toThrow('need LABELSYNC_SCHEDULE_GROUP and LABELSYNC_SCHEDULE_NAME_PREFIX');
  });
});
