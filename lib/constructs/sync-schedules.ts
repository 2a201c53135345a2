import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { acknowledgeWildcardResources } from '../nag';

export interface SyncSchedulesProps {
  /** The scheduledSync function every storage schedule targets. */
  target: lambda.Function;
}

/**
 * Where storages' `sync_schedule`s live: an EventBridge Scheduler schedule group of this stack
 * (the storages use case creates one schedule per storage in it, `labelsync-<stack>-storage-<id>`)
 * and the execution role Scheduler assumes, which may invoke the scheduledSync function and
 * nothing else. `bindManage` lets a function create, update and delete schedules of the group
 * (and pass that role only); `bindRemove` lets it delete them.
 */
export class SyncSchedules extends Construct {
  readonly group: scheduler.CfnScheduleGroup;
  readonly role: iam.Role;
  readonly groupName: string;
  /** Schedules are named `<namePrefix>-storage-<id>`. */
  readonly namePrefix: string;
  private readonly target: lambda.Function;

  constructor(scope: Construct, id: string, props: SyncSchedulesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.target = props.target;
    this.namePrefix = `labelsync-${stack.stackName}`.replace(/[^0-9A-Za-z._-]/g, '-').slice(0, 40);
    this.groupName = `${this.namePrefix}-sync`;
    this.group = new scheduler.CfnScheduleGroup(this, 'Group', { name: this.groupName });
    this.role = new iam.Role(this, 'ExecutionRole', {
      // Only this account's schedules may assume it (confused-deputy guard).
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': this.schedulesArn() } },
      }),
      description: 'labelsync: EventBridge Scheduler invokes scheduledSync for storage sync schedules',
    });
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.target.functionArn] }));
    // Scheduler invokes asynchronously; a missed run is the next run's, a retry could overlap it.
    props.target.configureAsyncInvoke({ retryAttempts: 0 });
  }

  /** ARN of every schedule of the group (`schedule/<group>/*`). */
  schedulesArn(): string {
    return Arn.format({ service: 'scheduler', resource: 'schedule', resourceName: `${this.groupName}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, Stack.of(this));
  }

  /** Lets `fn` delete schedules of the group (a storage's schedule goes with it). */
  bindRemove(fn: lambda.Function): void {
    this.bind(fn, ['scheduler:DeleteSchedule']);
  }

  /** Lets `fn` create, replace and delete schedules of the group, targeting scheduledSync through the execution role. */
  bindManage(fn: lambda.Function): void {
    this.bind(fn, ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule']);
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [this.role.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } } }),
    );
    fn.addEnvironment('LABELSYNC_SCHEDULED_SYNC_ARN', this.target.functionArn);
    fn.addEnvironment('LABELSYNC_SCHEDULER_ROLE_ARN', this.role.roleArn);
  }

  private bind(fn: lambda.Function, actions: string[]): void {
    const schedules = this.schedulesArn();
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [schedules] }));
    acknowledgeWildcardResources(fn.role!, [schedules], 'Schedules are named per storage (<prefix>-storage-<id>) at run time; the grant is limited to the schedule group of this stack.');
    fn.addEnvironment('LABELSYNC_SCHEDULE_GROUP', this.groupName);
    fn.addEnvironment('LABELSYNC_SCHEDULE_NAME_PREFIX', this.namePrefix);
  }
}
