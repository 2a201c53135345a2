/**
 * S3 emulator: @20minutes/s3rver in-process, file-backed in a temp dir removed at stop.
 * It checks SigV4 (header and presigned), with fixed credentials S3RVER/S3RVER.
 */
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RunningS3 extends S3Endpoint {
  stop(): Promise<void>;
}

/**
 * s3rver's ListObjectsV2 continuation token uses DES, which OpenSSL 3 only offers with the
 * legacy provider; without it paginated listings answer 500, far from the cause. Fail early.
 */
export function assertLegacyOpenSsl(): void {
  try {
    crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
  } catch {
    throw new Error(
      'The S3 emulator (s3rver) needs Node started with --openssl-legacy-provider ' +
        '(use `npm test` / `npm run emulators`, or NODE_OPTIONS=--openssl-legacy-provider).',
    );
  }
}

/**
 * s3rver builds the SigV4 canonical query string with encodeURIComponent, which leaves `!'()*`
 * unescaped; AWS (and the SDK that signs) escape them as RFC 3986 says, so any listing whose
 * StartAfter holds one of them ("photo (1).jpg", a probe point between two keys) answered
 * SignatureDoesNotMatch where S3 answers the listing. Before s3rver is first loaded, its
 * authentication module is compiled with that name bound to the RFC 3986 encoder s3rver's own
 * utils export (the module's text is unchanged on disk).
 */
function loadS3rverWithRfc3986Query(): void {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@20minutes/s3rver/lib/middleware/authentication.js');
  if (require.cache[file]) return;
  const m = new Module(file);
  m.filename = file;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
  const source = readFileSync(file, 'utf8');
  const fixed = source.replace(/^('use strict';)?/, (strict) => `${strict} const encodeURIComponent = require('../utils').encodeURIComponentRFC3986;`);
  (m as unknown as { _compile(code: string, filename: string): void })._compile(fixed, file);
  m.loaded = true;
  require.cache[file] = m;
}

/** Starts s3rver on 127.0.0.1 (`port` 0 = free port). */
export async function startS3(opts: { port?: number; directory?: string } = {}): Promise<RunningS3> {
  assertLegacyOpenSsl();
  loadS3rverWithRfc3986Query();
  const { default: S3rver } = await import('@20minutes/s3rver');
  const ownDir = !opts.directory;
  const directory = opts.directory ?? (await mkdtemp(path.join(os.tmpdir(), 'labelsync-s3-')));
  const server = new S3rver({ port: opts.port ?? 0, address: '127.0.0.1', silent: true, directory });
  const addr = await server.run();
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close().catch(() => undefined);
      if (ownDir) await rm(directory, { recursive: true, force: true });
    },
  };
}
