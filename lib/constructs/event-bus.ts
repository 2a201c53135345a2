import * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface EventBusProps {
  /** Functions that emit events: they get `events:PutEvents` on this bus only and its name as LABELSYNC_EVENT_BUS_NAME. */
  emitters: lambda.Function[];
}

/**
 * The custom EventBridge bus labelsync puts every event on (source `labelsync`, detail-types
 * `labelsync.<action words>`, README "Webhooks"), so users route events with their own rules
 * without running an HTTP endpoint.
 */
export class EventBus extends Construct {
  readonly bus: events.EventBus;

  constructor(scope: Construct, id: string, props: EventBusProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {});
    for (const fn of props.emitters) {
      this.bus.grantPutEventsTo(fn);
      fn.addEnvironment('LABELSYNC_EVENT_BUS_NAME', this.bus.eventBusName);
    }
  }
}
