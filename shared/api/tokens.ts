/**
 * API tokens and organizations. A token is 40 hex characters (Label Studio's format); only its
 * SHA-256 is stored (`TOKEN#<sha256>`), mapped to an organization and a numeric user id.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nextId } from '../db/counters';
import type { Db } from '../db/repo-common';
import { ensureOrgExternalId, getOrg, getToken, putOrg, putToken } from '../db/repo-orgs';

/** SHA-256 hex of a token: the table key. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh random token (160 bits, hex). */
export function generateToken(): string {
  return randomBytes(20).toString('hex');
}

/** A fresh external id: 128 random bits, in the alphabet STS accepts for ExternalId. */
export function generateExternalId(): string {
  return `ls-${randomBytes(16).toString('hex')}`;
}

/** Creates an organization (with its external id) and returns its id. */
export async function createOrg(db: Db, title: string, id: string = randomUUID()): Promise<string> {
  await putOrg(db, { kind: 'org', id, title, created_at: new Date().toISOString(), external_id: generateExternalId() });
  return id;
}

/**
 * The organization's external id; an organization created before external ids existed gets one
 * now (once: concurrent callers get the same value).
 * @throws Error for an unknown organization
 */
export async function orgExternalId(db: Db, orgId: string): Promise<string> {
  const known = (await getOrg(db, orgId))?.external_id;
  const id = known ?? (await ensureOrgExternalId(db, orgId, generateExternalId()));
  if (!id) throw new Error(`organization ${orgId} does not exist`);
  return id;
}

/**
 * Stores `token` (or a fresh one) for an organization under a new user id and returns it.
 * Storing an already-known token keeps its existing mapping (returns it unchanged).
 */
export async function mintToken(db: Db, orgId: string, opts: { token?: string; label?: string } = {}): Promise<string> {
  const token = opts.token ?? generateToken();
  const userId = await nextId(db, 'user');
  await putToken(db, hashToken(token), { kind: 'token', orgId, userId, created_at: new Date().toISOString(), label: opts.label });
  return token;
}

/** Creates an organization with one token: `{orgId, token}`. */
export async function createOrgWithToken(db: Db, title: string, label?: string): Promise<{ orgId: string; token: string }> {
  const orgId = await createOrg(db, title);
  return { orgId, token: await mintToken(db, orgId, { label }) };
}

/** Organization of local mode (`npm start`). */
export const LOCAL_ORG_ID = 'local';
/** File under the data directory holding the generated local token. */
export const LOCAL_TOKEN_FILE = 'api-token';

/**
 * Local mode: makes sure a usable token exists and returns it. With `envToken`
 * (LABELSYNC_API_TOKEN) that token is registered; otherwise the token stored in
 * `<dataDir>/api-token` (0600) is used, or a new one is generated and stored
 * (`created: true` → the caller prints it once). Idempotent.
 */
export async function ensureLocalToken(dataDir: string, envToken: string | undefined, db: Db): Promise<{ token: string; created: boolean }> {
  await createOrg(db, 'Local', LOCAL_ORG_ID);
  let token = envToken?.trim() || undefined;
  let created = false;
  if (!token) {
    const file = join(dataDir, LOCAL_TOKEN_FILE);
    await mkdir(dataDir, { recursive: true });
    try {
      token = (await readFile(file, 'utf8')).trim() || undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!token) {
      token = generateToken();
      const fh = await open(file, 'w', 0o600);
      try {
        await fh.writeFile(token + '\n');
      } finally {
        await fh.close();
      }
      created = true;
    }
  }
  // The table may be fresh (in-memory DynamoDB Local) while the token file survived.
  if (!(await getToken(db, hashToken(token)))) await mintToken(db, LOCAL_ORG_ID, { token, label: 'local' });
  return { token, created };
}
