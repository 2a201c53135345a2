/**
 * X-Ray tracing of AWS SDK calls through Powertools Tracer. The functions run with active tracing
 * (CDK), so each invocation already has a segment; this adds one subsegment per SDK call (DynamoDB,
 * KMS, S3, STS, Step Functions) with its service, operation and error. Powertools turns itself off
 * outside Lambda (no AWS_EXECUTION_ENV) or with POWERTOOLS_TRACE_ENABLED=false, so locally the
 * clients are returned untouched.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';

let tracer: Tracer | undefined;

/**
 * The process's tracer. HTTPS capture is off: the SDK clients are captured as such, and patching
 * `https` as well would record every SDK call twice.
 */
export function getTracer(): Tracer {
  return (tracer ??= new Tracer({ serviceName: 'labelsync', captureHTTPsRequests: false }));
}

/** `client`, instrumented when tracing is on. */
export function traced<T>(client: T): T {
  const t = getTracer();
  return t.isTracingEnabled() ? t.captureAWSv3Client(client) : client;
}
