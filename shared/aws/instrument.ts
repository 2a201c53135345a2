/**
 * What every AWS SDK client the service builds goes through: X-Ray tracing of its calls (in
 * Lambda; shared/tracing.ts) and, when the IAM evaluation installed a recorder, the recording of
 * each call's action and resource (call-recorder.ts). One wrapper, so a new client gets both.
 */
import { traced } from '../tracing';
import { recordCalls, type AwsService, type CallIdentity } from './call-recorder';

export function instrumented<C>(client: C, service: AwsService, opts: { identity?: CallIdentity; kmsKeyId?: string } = {}): C {
  return recordCalls(traced(client), service, opts);
}
