/**
 * X-Ray tracing of AWS SDK calls through Powertools Tracer. The functions run with active tracing
 * (CDK), so each invocation already has a segment; this adds one subsegment per SDK call (DynamoDB,
 * KMS, S3, STS, Step Functions) with its service, operation and error. Powertools turns itself off
 * outside Lambda (no AWS_EXECUTION_ENV) or with POWERTOOLS_TRACE_ENABLED=false, so locally the
 * clients are returned untouched.
 *
 * The Tracer is imported only where it may trace: loading it loads the X-Ray SDK, whose context
 * tracking installs a process-wide async hook, and from then on every promise of the process costs
 * about 14 times as much, tracing on or off (300,000 awaited promises: 25 ms, 376–407 ms with the
 * Tracer imported). `npm start`, the tests and the benchmarks run without it.
 */
import type { Tracer } from '@aws-lambda-powertools/tracer';

const mayTrace = !!process.env.AWS_EXECUTION_ENV && process.env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false';
const powertools = mayTrace ? await import('@aws-lambda-powertools/tracer') : undefined;

let tracer: Tracer | undefined;

/**
 * The process's tracer (undefined where it cannot trace). HTTPS capture is off: the SDK clients
 * are captured as such, and patching `https` as well would record every SDK call twice.
 */
export function getTracer(): Tracer | undefined {
  return (tracer ??= powertools && new powertools.Tracer({ serviceName: 'labelsync', captureHTTPsRequests: false }));
}

/** `client`, instrumented when tracing is on. */
export function traced<T>(client: T): T {
  const t = getTracer();
  return t?.isTracingEnabled() ? t.captureAWSv3Client(client) : client;
}
