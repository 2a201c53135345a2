/**
 * `npm run emulators`: starts every emulator, writes .labelsync/emulators.json, prints the
 * endpoints and stays in the foreground until Ctrl-C / SIGTERM / SIGHUP or until npm above it
 * exits, then stops them all.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isIP } from 'node:net';
import { endpointTarget } from '../shared/storage/endpoint-guard';
import { startEmulators, type EmulatorEndpoints } from './emulators';
import { watchLaunchers } from './launcher-watch';

const OUT_DIR = path.resolve('.labelsync');
const OUT_FILE = path.join(OUT_DIR, 'emulators.json');

/**
 * The LABELSYNC_ALLOWED_ENDPOINTS value covering exactly the storage emulators' `host:port`s, so a
 * pasted line does not open every other service on loopback.
 */
function allowlistLine(endpoints: Partial<EmulatorEndpoints>): string {
  const urls = [endpoints.s3?.endpoint, endpoints.azure?.blobEndpoint, endpoints.azureOauth?.blobEndpoint, endpoints.gcs?.apiEndpoint];
  if (endpoints.redis) urls.push(`redis://${endpoints.redis.host}:${endpoints.redis.port}`);
  const entries = new Set<string>();
  for (const url of urls) {
    if (!url) continue;
    const { host, port } = endpointTarget(url, 'emulator');
    entries.add(`${isIP(host) === 6 ? `[${host}]` : host}:${port}`);
  }
  return `LABELSYNC_ALLOWED_ENDPOINTS=${[...entries].join(',')}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const running = await startEmulators();
  const { endpoints } = running;
  await mkdir(OUT_DIR, { recursive: true });
  // Contains only emulator credentials (public dev keys, a throwaway GCS key): fine on disk, 0600 anyway.
  await writeFile(OUT_FILE, JSON.stringify(endpoints, null, 2) + '\n', { mode: 0o600 });

  const lines = [
    `emulators up in ${Date.now() - started} ms; endpoints written to ${path.relative(process.cwd(), OUT_FILE)}`,
    `  s3        ${endpoints.s3?.endpoint}  (S3RVER/S3RVER, us-east-1, path-style)`,
    `  dynamodb  ${endpoints.dynamodb?.endpoint}`,
    `  azure     ${endpoints.azure?.blobEndpoint}  (devstoreaccount1)`,
    `  azureOauth ${endpoints.azureOauth?.blobEndpoint}  (CA: ${endpoints.azureOauth?.caCertPath})`,
    `  gcs       ${endpoints.gcs?.apiEndpoint}  (project ${endpoints.gcs?.projectId}; service account in the JSON file)`,
    `  redis     ${endpoints.redis?.host}:${endpoints.redis?.port}`,
    `  sts       ${endpoints.sts?.endpoint ?? '(moto not installed: omitted)'}`,
    '',
    'Storages on these endpoints pass the SSRF guard with:',
    `  ${allowlistLine(endpoints)}`,
    ...(endpoints.sts ? [`s3s storages assume roles in moto with LABELSYNC_STS_ENDPOINT=${endpoints.sts.endpoint}`] : []),
    'Ctrl-C stops everything.',
  ];
  console.log(lines.join('\n'));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping emulators...`);
    await running.stop();
    await rm(OUT_FILE, { force: true });
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  // SIGTERM to npm does not reach this process (see launcher-watch.ts).
  watchLaunchers((pid) => void shutdown(`launcher process ${pid} exited`));
  // In-process servers (s3rver, GCS) keep the event loop alive; nothing else to wait for.
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
