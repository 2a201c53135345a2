import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { FUNCTIONS, type FunctionName } from '../../functions/manifest';

export interface SchedulesProps {
  functions: Record<FunctionName, lambda.Function>;
}

/**
 * One EventBridge rate rule per manifest function with `everyMinutes` (the local runtime runs the
 * same functions on a timer from the same field). A failed run is not retried: the next scheduled
 * run resumes its work, and a retry could overlap it.
 */
export class Schedules extends Construct {
  readonly rules: Partial<Record<FunctionName, events.Rule>> = {};

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
      const minutes = FUNCTIONS[name].everyMinutes;
      if (!minutes) continue;
      this.rules[name] = new events.Rule(this, name, {
        description: `labelsync ${name}: every ${minutes} min`,
        schedule: events.Schedule.rate(Duration.minutes(minutes)),
        targets: [new targets.LambdaFunction(props.functions[name], { retryAttempts: 0 })],
      });
      props.functions[name].configureAsyncInvoke({ retryAttempts: 0 });
    }
  }
}
