/**
 * How a sync job's state-machine execution is started. In AWS: StartExecution on the configured
 * state machine; locally the runtime passes its own starter (the local ASL runner) to
 * `createApp`. Starting is idempotent per execution name: a second start with the same name starts
 * nothing (Step Functions answers ExecutionAlreadyExists for a different input, and returns the
 * running execution for an identical one).
 */
import { instrumented } from '../aws/instrument';

/** Input of the sync state machine. */
export interface SyncExecutionInput {
  storageId: number;
  jobId: string;
  role: 'import' | 'export';
}

export interface SyncStarter {
  /** Starts (at most once per `executionName`) an execution for the job; resolves once accepted. */
  start(input: SyncExecutionInput, executionName: string): Promise<void>;
}

/** Execution name of a job: `<storageId>-<jobId>` (≤ 80 chars of `[A-Za-z0-9-_]`). */
export function executionNameOf(input: Pick<SyncExecutionInput, 'storageId' | 'jobId'>): string {
  return `${input.storageId}-${input.jobId}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
}

/** Starts executions of the state machine `stateMachineArn` (AWS). */
export class StepFunctionsSyncStarter implements SyncStarter {
  private client: Promise<import('@aws-sdk/client-sfn').SFNClient> | undefined;

  constructor(private readonly stateMachineArn: string, private readonly region: string) {}

  async start(input: SyncExecutionInput, executionName: string): Promise<void> {
    const sdk = await import('@aws-sdk/client-sfn');
    this.client ??= import('@smithy/node-http-handler').then(
      ({ NodeHttpHandler }) =>
        instrumented(
          new sdk.SFNClient({
            region: this.region,
            maxAttempts: 4,
            requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 10_000 }),
          }),
          'states',
        ),
    );
    const client = await this.client;
    try {
      await client.send(
        new sdk.StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: executionName, input: JSON.stringify(input) }),
      );
    } catch (e) {
      // Same name already started: the job is running (or ran) — exactly what we want.
      if ((e as { name?: string }).name === 'ExecutionAlreadyExists') return;
      throw e;
    }
  }
}
