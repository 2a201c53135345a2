/**
 * S3 client for the s3rver emulator in tests. s3rver computes SigV4 over the path without the
 * trailing `/` the SDK puts on bucket-level requests (`/bucket/`), so signatures mismatch unless
 * it is stripped before signing; path-style addressing because there is no wildcard DNS.
 */
import { S3Client } from '@aws-sdk/client-s3';

export interface S3EmulatorEndpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** A path-style S3 client against s3rver with the trailing-slash fix installed. */
export function createEmulatorS3Client(e: S3EmulatorEndpoint): S3Client {
  const client = new S3Client({
    endpoint: e.endpoint,
    region: e.region,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
    forcePathStyle: true,
    maxAttempts: 2,
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { path?: string };
      if (req && typeof req.path === 'string' && /^\/[^/]+\/$/.test(req.path)) req.path = req.path.slice(0, -1);
      return next(args);
    },
    { step: 'build', name: 'stripBucketTrailingSlash' },
  );
  return client;
}
