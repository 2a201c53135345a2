/**
 * The process-wide HMAC key that signs media tokens in resolve URLs. Every function instance must
 * use the same key, so it is shared state:
 * - AWS: 32 random bytes, encrypted with the secret box, stored once in the table
 *   (`CONFIG#signing-key`) with a conditional put; the loser of a creation race reads the winner's.
 * - Local: derived (HKDF-SHA256) from the data directory's master key, so it survives restarts
 *   without another file.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { getContext, type AppContext } from '../context';
import { isConditionalFailure } from '../db/repo-common';
import { loadLocalMasterKey } from './secret-box';

/** Table key of the stored signing key (AWS mode). */
export const SIGNING_KEY_ITEM = { pk: 'CONFIG#signing-key', sk: 'CONFIG' } as const;

let cached: Promise<Buffer> | undefined;

async function loadFromTable(ctx: AppContext): Promise<Buffer> {
  const { doc, table } = ctx.db;
  const read = async () => {
    const res = await doc.send(new GetCommand({ TableName: table, Key: SIGNING_KEY_ITEM, ConsistentRead: true }));
    return res.Item ? Buffer.from(await ctx.secretBox.decrypt(res.Item.blob as string), 'hex') : undefined;
  };
  const existing = await read();
  if (existing) return existing;
  const fresh = randomBytes(32);
  try {
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: { ...SIGNING_KEY_ITEM, kind: 'config', blob: await ctx.secretBox.encrypt(fresh.toString('hex')), created_at: new Date().toISOString() },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return fresh;
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
    const winner = await read();
    if (!winner) throw new Error('signing key vanished after a creation race');
    return winner;
  }
}

/**
 * The 32-byte signing key, loaded once per process.
 * @throws Error when neither KMS nor a data directory is configured
 */
export function getSigningKey(ctx: AppContext = getContext()): Promise<Buffer> {
  cached ??= (async () => {
    if (ctx.env.kmsKeyId) return loadFromTable(ctx);
    if (!ctx.env.dataDir) throw new Error('LABELSYNC_KMS_KEY_ID or LABELSYNC_DATA_DIR must be set for media token signing');
    const master = await loadLocalMasterKey(ctx.env.dataDir);
    return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'labelsync/media-token-signing/v1', 32));
  })().catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

/** Forgets the cached key (tests that switch data directories). */
export function resetSigningKeyCache(): void {
  cached = undefined;
}

/** HMAC-SHA256 of `data` with the signing key, base64url (a convenience for token signers). */
export async function hmacSign(data: string, ctx?: AppContext): Promise<string> {
  return createHmac('sha256', await getSigningKey(ctx)).update(data).digest('base64url');
}
