/**
 * Envelope encryption of storage secrets before they reach DynamoDB.
 *
 * - AWS (`LABELSYNC_KMS_KEY_ID`): one KMS data key per cold start (GenerateDataKey once, cached);
 *   each blob carries its wrapped data key; decrypting unwraps it with KMS Decrypt once per
 *   distinct wrapped key (cached), then AES-256-GCM locally.
 * - Local (`LABELSYNC_DATA_DIR`): a 32-byte AES-256-GCM master key in `<dataDir>/secret.key`,
 *   created with mode 0600 on first use.
 *
 * Blob formats (versioned, self-describing): `kms1.<wrappedKey>.<iv>.<ciphertext>.<tag>` and
 * `loc1.<iv>.<ciphertext>.<tag>`, each part base64url. Decryption failures throw a plain Error
 * without any plaintext or key material in the message.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { instrumented } from '../aws/instrument';

/** Encrypts and decrypts short secrets (JSON of a storage's secret fields). */
export interface SecretBox {
  encrypt(plain: string): Promise<string>;
  decrypt(blob: string): Promise<string>;
}

/** Binds every ciphertext to its purpose, so a blob cannot be replayed as something else. */
const AAD = Buffer.from('labelsync/secret/v1');

function seal(key: Buffer, plain: string): string[] {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(AAD);
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return [iv, ct, c.getAuthTag()].map((b) => b.toString('base64url'));
}

function open_(key: Buffer, iv: string, ct: string, tag: string): string {
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    d.setAAD(AAD);
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  } catch {
    throw new Error('secret blob could not be decrypted (wrong key or tampered data)');
  }
}

/** File name of the local master key inside the data directory. */
export const LOCAL_KEY_FILE = 'secret.key';

/**
 * Reads the local master key, creating it (0600, exclusive create so two processes cannot race
 * to different keys) when missing.
 * @throws Error when the file exists with a wrong length
 */
export async function loadLocalMasterKey(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, LOCAL_KEY_FILE);
  await mkdir(dataDir, { recursive: true });
  try {
    const fh = await open(file, 'wx', 0o600);
    try {
      await fh.writeFile(randomBytes(32).toString('hex') + '\n');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte hex key`);
  return key;
}

/** Local mode: AES-256-GCM with the data directory's master key. */
export function createLocalSecretBox(dataDir: string): SecretBox {
  let key: Promise<Buffer> | undefined;
  const getKey = () => (key ??= loadLocalMasterKey(dataDir).catch((e) => { key = undefined; throw e; }));
  return {
    async encrypt(plain) {
      return ['loc1', ...seal(await getKey(), plain)].join('.');
    },
    async decrypt(blob) {
      const [v, iv, ct, tag] = blob.split('.');
      if (v !== 'loc1' || !tag) throw new Error('not a local secret blob');
      return open_(await getKey(), iv, ct, tag);
    },
  };
}

/** AWS mode: KMS envelope encryption. `client` is injectable for tests against an emulator. */
export function createKmsSecretBox(opts: { keyId: string; region: string; endpoint?: string; client?: KMSClient }): SecretBox {
  const kms = instrumented(
    opts.client ??
      new KMSClient({
        region: opts.region,
        endpoint: opts.endpoint,
        maxAttempts: 3,
        requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 5_000 }),
      }),
    'kms',
    { kmsKeyId: opts.keyId },
  );
  let dataKey: Promise<{ plain: Buffer; wrapped: string }> | undefined;
  const unwrapped = new Map<string, Promise<Buffer>>();
  const current = () =>
    (dataKey ??= kms
      .send(new GenerateDataKeyCommand({ KeyId: opts.keyId, KeySpec: 'AES_256' }))
      .then((r) => {
        const wrapped = Buffer.from(r.CiphertextBlob!).toString('base64url');
        const plain = Buffer.from(r.Plaintext!);
        unwrapped.set(wrapped, Promise.resolve(plain));
        return { plain, wrapped };
      })
      .catch((e) => {
        dataKey = undefined;
        throw e;
      }));
  const unwrap = (wrapped: string): Promise<Buffer> => {
    let p = unwrapped.get(wrapped);
    if (!p) {
      p = kms
        .send(new DecryptCommand({ CiphertextBlob: Buffer.from(wrapped, 'base64url'), KeyId: opts.keyId }))
        .then((r) => Buffer.from(r.Plaintext!));
      p.catch(() => unwrapped.delete(wrapped));
      // Bounded cache: a process sees few distinct data keys (one per writer cold start).
      if (unwrapped.size > 1000) unwrapped.clear();
      unwrapped.set(wrapped, p);
    }
    return p;
  };
  return {
    async encrypt(plain) {
      const k = await current();
      return ['kms1', k.wrapped, ...seal(k.plain, plain)].join('.');
    },
    async decrypt(blob) {
      const [v, wrapped, iv, ct, tag] = blob.split('.');
      if (v !== 'kms1' || !tag) throw new Error('not a KMS secret blob');
      return open_(await unwrap(wrapped), iv, ct, tag);
    },
  };
}

/**
 * The secret box for an environment: KMS when a key id is configured, else the local key file.
 * When neither is configured, the box fails on use (not on construction, so routes that never
 * touch secrets still work).
 */
export function secretBoxFor(e: { kmsKeyId?: string; dataDir?: string; region: string }): SecretBox {
  if (e.kmsKeyId) return createKmsSecretBox({ keyId: e.kmsKeyId, region: e.region });
  if (e.dataDir) return createLocalSecretBox(e.dataDir);
  const fail = async (): Promise<string> => {
    throw new Error('LABELSYNC_KMS_KEY_ID (AWS) or LABELSYNC_DATA_DIR (local) must be set to store secrets');
  };
  return { encrypt: fail, decrypt: fail };
}
