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
import { deflateSync } from 'node:zlib';
import { inject } from 'vitest';
import { startRuntime, type LabelsyncRuntime } from '../../local/runtime';
import { createS3Buckets } from '../contract/helpers';
import { runtimeApi, type RuntimeApi } from '../integration/runtime-client';

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

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (b: Buffer): number => {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type: string, data: Buffer): Buffer => {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
};

/** A real (decodable) solid-colour RGB PNG, so a browser reports its natural size. */
export function png(width: number, height: number, rgb: [number, number, number]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter, no interlace
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3).map((_, i) => rgb[i % 3])]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(pixels)), chunk('IEND', Buffer.alloc(0))]);
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
