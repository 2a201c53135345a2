/**
 * The HMAC key that signs media tokens in resolve URLs. Every function instance must use the same
 * key, so it is shared state:
 * - AWS: 32 random bytes, encrypted with the secret box, stored once in the table
 *   (`CONFIG#signing-key`) with a conditional put; the loser of a creation race reads the winner's.
 * - Local: derived (HKDF-SHA256) from the data directory's master key, so it survives restarts
 *   without another file.
 * The composition root memoises the result per app (`app.signingKey()`).
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import type { Env } from '../config/env';
import type { Db } from '../db/repo-common';
import { getSigningKeyBlob, putSigningKeyBlobIfAbsent } from '../db/repo-config';
import { loadLocalMasterKey, type SecretBox } from './secret-box';

/** What loading the key needs. */
export interface SigningKeySource {
  env: Pick<Env, 'kmsKeyId' | 'dataDir'>;
  db: Db;
  secretBox: SecretBox;
}

async function loadFromTable({ db, secretBox }: SigningKeySource): Promise<Buffer> {
  const read = async () => {
    const blob = await getSigningKeyBlob(db);
    return blob ? Buffer.from(await secretBox.decrypt(blob), 'hex') : undefined;
  };
  const existing = await read();
  if (existing) return existing;
  const fresh = randomBytes(32);
  if (await putSigningKeyBlobIfAbsent(db, await secretBox.encrypt(fresh.toString('hex')))) return fresh;
  const winner = await read();
  if (!winner) throw new Error('signing key vanished after a creation race');
  return winner;
}

/**
 * Loads (AWS: creates on first use) the 32-byte signing key. Not cached here.
 * @throws Error when neither KMS nor a data directory is configured
 */
export async function loadSigningKey(source: SigningKeySource): Promise<Buffer> {
  if (source.env.kmsKeyId) return loadFromTable(source);
  if (!source.env.dataDir) throw new Error('LABELSYNC_KMS_KEY_ID or LABELSYNC_DATA_DIR must be set for media token signing');
  const master = await loadLocalMasterKey(source.env.dataDir);
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'labelsync/media-token-signing/v1', 32));
}
