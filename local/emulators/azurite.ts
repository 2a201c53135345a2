/**
 * Azure Blob emulator: Azurite's blob service as a child node process, in memory.
 * Two modes: plain HTTP with the well-known dev account (shared key / SAS), and HTTPS with
 * `--oauth basic` for service-principal (bearer token) tests, using the committed test-only
 * self-signed certificate in test/fixtures/tls/.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, httpAnswers, spawnManaged, waitUntil } from './process';

/** Azurite's fixed development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Test-only self-signed certificate for 127.0.0.1/localhost (also its own CA). */
export const TEST_TLS_CERT_PATH = path.join(repoRoot, 'test', 'fixtures', 'tls', 'cert.pem');
export const TEST_TLS_KEY_PATH = path.join(repoRoot, 'test', 'fixtures', 'tls', 'key.pem');

export interface AzureEndpoint {
  /** `http://127.0.0.1:<port>/devstoreaccount1` (path-style account, as Azurite expects). */
  blobEndpoint: string;
  accountName: string;
  accountKey: string;
}

export interface AzureOauthEndpoint extends AzureEndpoint {
  /**
   * PEM CA the HTTPS endpoint's certificate chains to. Node reads NODE_EXTRA_CA_CERTS only at
   * process start, so in-process clients must pass it explicitly (see test/emulators/azure-tls.ts).
   */
  caCertPath: string;
}

export interface RunningAzurite extends AzureEndpoint {
  stop(): Promise<void>;
}
export interface RunningAzuriteOauth extends AzureOauthEndpoint {
  stop(): Promise<void>;
}

function blobMain(): string {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = path.dirname(require.resolve('azurite/package.json'));
  } catch {
    dir = path.join(repoRoot, 'node_modules', 'azurite');
  }
  const main = path.join(dir, 'dist', 'src', 'blob', 'main.js');
  if (!existsSync(main)) throw new Error(`Azurite not found at ${main}: run \`npm ci\` (devDependency azurite).`);
  return main;
}

async function launch(oauth: boolean, opts: { port?: number; timeoutMs?: number }) {
  const port = opts.port ?? (await freePort());
  const args = [
    blobMain(),
    '--blobHost', '127.0.0.1',
    '--blobPort', String(port),
    '--inMemoryPersistence',
    '--silent',
    '--disableTelemetry',
    // @azure/storage-blob 12.32 sends an API version Azurite 3.35 does not list yet.
    '--skipApiVersionCheck',
    ...(oauth ? ['--oauth', 'basic', '--cert', TEST_TLS_CERT_PATH, '--key', TEST_TLS_KEY_PATH] : []),
  ];
  const name = oauth ? 'Azurite (OAuth/HTTPS)' : 'Azurite';
  // With --inMemoryPersistence Azurite writes nothing, so its cwd does not matter.
  const proc = spawnManaged(name, process.execPath, args);
  const base = `${oauth ? 'https' : 'http'}://127.0.0.1:${port}`;
  const probe = oauth
    ? () => tlsAnswers(port)
    : () => httpAnswers(`${base}/${AZURITE_ACCOUNT_NAME}?comp=list`);
  try {
    await waitUntil(name, probe, { timeoutMs: opts.timeoutMs ?? 60_000, failed: proc.exited });
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return {
    blobEndpoint: `${base}/${AZURITE_ACCOUNT_NAME}`,
    accountName: AZURITE_ACCOUNT_NAME,
    accountKey: AZURITE_ACCOUNT_KEY,
    stop: () => proc.stop(),
  };
}

async function tlsAnswers(port: number): Promise<boolean> {
  const https = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const ca = readFileSync(TEST_TLS_CERT_PATH);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: `/${AZURITE_ACCOUNT_NAME}?comp=list`, method: 'GET', ca, timeout: 2_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(true));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Azurite blob over HTTP with the dev account (shared key and SAS). */
export async function startAzurite(opts: { port?: number; timeoutMs?: number } = {}): Promise<RunningAzurite> {
  return launch(false, opts);
}

/** Azurite blob over HTTPS accepting bearer tokens (`--oauth basic`). */
export async function startAzuriteOauth(opts: { port?: number; timeoutMs?: number } = {}): Promise<RunningAzuriteOauth> {
  const r = await launch(true, opts);
  return { ...r, caCertPath: TEST_TLS_CERT_PATH };
}
