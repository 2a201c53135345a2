/**
 * The AWS `SyncScheduler`: one EventBridge Scheduler schedule per storage in the stack's schedule
 * group, targeting the `scheduledSync` function with `{storageId}` through the scheduler execution
 * role (which may invoke that function only). The target does not retry: a missed run is the next
 * run's, and a retry could land while that one queues a sync.
 */
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import { instrumented } from '../aws/instrument';
import { ScheduleError } from '../errors';
import { scheduleNameOf, type SyncScheduler } from './sync-scheduler';

export interface EventBridgeSchedulerConfig {
  region: string;
  /** Schedule group the stack created. */
  groupName: string;
  /** `labelsync-<stack>`: schedules are named `<prefix>-storage-<id>`. */
  namePrefix: string;
  /** ARN of the scheduledSync function (absent: this function may only remove schedules). */
  targetArn?: string;
  /** Role Scheduler assumes to invoke the target. */
  roleArn?: string;
}

/** Per-call limits: Scheduler answers in well under a second; three jittered attempts at most. */
const CONNECT_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 3;

export class EventBridgeSyncScheduler implements SyncScheduler {
  private client: Promise<{ client: SchedulerClient; sdk: typeof import('@aws-sdk/client-scheduler') }> | undefined;

  constructor(private readonly config: EventBridgeSchedulerConfig, client?: SchedulerClient) {
    if (client) this.client = import('@aws-sdk/client-scheduler').then((sdk) => ({ client, sdk }));
  }

  private sdk() {
    return (this.client ??= Promise.all([import('@aws-sdk/client-scheduler'), import('@smithy/node-http-handler')]).then(([sdk, { NodeHttpHandler }]) => ({
      sdk,
      client: instrumented(
        new sdk.SchedulerClient({
          region: this.config.region,
          maxAttempts: MAX_ATTEMPTS,
          requestHandler: new NodeHttpHandler({ connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }),
        }),
        'scheduler',
      ),
    })));
  }

  async put(storageId: number, expression: string): Promise<void> {
    const name = scheduleNameOf(this.config.namePrefix, storageId);
    if (!this.config.targetArn || !this.config.roleArn) throw new ScheduleError(`The sync schedule ${name} cannot be created here: LABELSYNC_SCHEDULED_SYNC_ARN and LABELSYNC_SCHEDULER_ROLE_ARN are not set.`);
    const { client, sdk } = await this.sdk();
    const input = {
      Name: name,
      GroupName: this.config.groupName,
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' as const },
      State: 'ENABLED' as const,
      Target: {
        Arn: this.config.targetArn,
        RoleArn: this.config.roleArn,
        Input: JSON.stringify({ storageId }),
        RetryPolicy: { MaximumRetryAttempts: 0 },
      },
    };
    try {
      try {
        await client.send(new sdk.CreateScheduleCommand(input));
      } catch (e) {
        // It exists already (a changed expression, or a retried save): replace it whole.
        if ((e as { name?: string }).name !== 'ConflictException') throw e;
        await client.send(new sdk.UpdateScheduleCommand(input));
      }
    } catch (e) {
      throw new ScheduleError(`The sync schedule ${name} could not be saved (${(e as Error).name ?? 'error'}); nothing was saved, try again.`, { cause: e });
    }
  }

  async remove(storageId: number): Promise<void> {
    const { client, sdk } = await this.sdk();
    const name = scheduleNameOf(this.config.namePrefix, storageId);
    try {
      await client.send(new sdk.DeleteScheduleCommand({ Name: name, GroupName: this.config.groupName }));
    } catch (e) {
      if ((e as { name?: string }).name === 'ResourceNotFoundException') return;
      throw new ScheduleError(`The sync schedule ${name} could not be deleted (${(e as Error).name ?? 'error'}); try again.`, { cause: e });
    }
  }
}
