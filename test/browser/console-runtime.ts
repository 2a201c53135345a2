/**
 * What the console suite runs against: `npm start`'s runtime (local HTTP server serving the
 * console and the API, the synthesized state machine, the stream poller) on the global setup's
 * DynamoDB Local, a local-files document root with a few PNG images, and an S3 emulator bucket
 * holding a few more.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { startRuntime, type LabelsyncRuntime } from '../../local/runtime';
import { createS3Buckets } from '../contract/helpers';
import { runtimeApi, type RuntimeApi } from '../integration/runtime-client';
import { png } from './png';

export interface ConsoleRuntime {
  runtime: LabelsyncRuntime;
  api: RuntimeApi;
  /** LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT; `images/` holds the local-files images, `out/` is empty. */
  root: string;
  /** A bucket on the S3 emulator holding `images/s1.png`…`s3.png`. */
  bucket: string;
  s3: ReturnType<typeof inject<'emulators'>>['s3'];
  stop(): Promise<void>;
}

/** Starts the runtime and seeds the images. Restores the environment it changed on `stop`. */
export async function startConsoleRuntime(): Promise<ConsoleRuntime> {
  const dir = mkdtempSync(join(tmpdir(), 'labelsync-console-'));
  const root = join(dir, 'files');
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'out'), { recursive: true });
  writeFileSync(join(root, 'images', 'l1.png'), png(32, 24, [200, 40, 40]));
  writeFileSync(join(root, 'images', 'l2.png'), png(32, 24, [40, 160, 40]));

  const s3 = inject('emulators').s3;
  const bucket = `console-${Date.now().toString(36)}`;
  await createS3Buckets(s3.endpoint, s3, s3.region, [bucket]);
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3 });
  for (let i = 1; i <= 3; i++) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `images/s${i}.png`, Body: png(16, 16, [40, 40, 60 * i]), ContentType: 'image/png' }));
  }
  client.destroy();

  const saved: Record<string, string | undefined> = {};
  const env = { LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true', LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: root, LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'true' };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  const runtime = await startRuntime({
    port: 0,
    dataDir: join(dir, 'data'),
    dynamodbEndpoint: inject('emulators').dynamodb.endpoint,
    tableName: inject('tableName'),
    preloadStateMachine: true,
    log: () => {},
  });
  return {
    runtime,
    api: runtimeApi(() => runtime),
    root,
    bucket,
    s3,
    async stop() {
      await runtime.stop();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
