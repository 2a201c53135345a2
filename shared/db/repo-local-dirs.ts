/**
 * Ownership of host directories by local-files storages: a directory belongs to the organization
 * that first attached a storage to it. One item per claimed directory, keyed on its canonical
 * (realpath) form with a trailing `/`, all in one partition so that the claims below a directory
 * are one `begins_with` query and the claims above it one BatchGetItem of its ancestors. The
 * partition stays small: local files exist only in the local runtime, one claim per directory.
 */
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet, isConditionalFailure, type Db } from './repo-common';

const PK = 'LOCALDIRS';

/** A recorded claim: the canonical directory and the organization owning it. */
export interface LocalDirClaim {
  dir: string;
  orgId: string;
}

const skOf = (realDir: string): string => `DIR#${realDir.replace(/\/+$/, '')}/`;

/** `/a/b/c` → `/`, `/a`, `/a/b`, `/a/b/c`. */
function selfAndAncestors(realDir: string): string[] {
  const parts = realDir.split('/').filter(Boolean);
  return ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
}

const claimOf = (it: Record<string, unknown>): LocalDirClaim => ({ dir: String(it.dir), orgId: String(it.orgId) });

/** Claims on `realDir` itself or any directory above it (one BatchGetItem, consistent). */
export async function claimsAbove(db: Db, realDir: string): Promise<LocalDirClaim[]> {
  const found: LocalDirClaim[] = [];
  const keys = selfAndAncestors(realDir).map((d) => ({ pk: PK, sk: skOf(d) }));
  await batchGet(db, keys, (it) => found.push(claimOf(it)), { consistent: true });
  return found;
}

/** Claims strictly below `realDir` (paged consistent queries on the sort-key prefix). */
export async function claimsBelow(db: Db, realDir: string): Promise<LocalDirClaim[]> {
  const found: LocalDirClaim[] = [];
  const prefix = skOf(realDir);
  let start: Record<string, unknown> | undefined;
  do {
    const res = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': PK, ':prefix': prefix },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const it of res.Items ?? []) if (it.sk !== prefix) found.push(claimOf(it));
    start = res.LastEvaluatedKey;
  } while (start);
  return found;
}

/** Claims of organizations other than `orgId` on, above or below `realDir`. */
export async function foreignClaimsAround(db: Db, realDir: string, orgId: string): Promise<LocalDirClaim[]> {
  const [above, below] = await Promise.all([claimsAbove(db, realDir), claimsBelow(db, realDir)]);
  return [...above, ...below].filter((c) => c.orgId !== orgId);
}

/**
 * Records `orgId` as the owner of `realDir` unless another organization owns it (conditional
 * put: of two organizations racing for one directory exactly one wins).
 * @returns 'created' (a new claim), 'kept' (the organization already owned it) or 'taken'
 */
export async function putLocalDirClaim(db: Db, realDir: string, orgId: string): Promise<'created' | 'kept' | 'taken'> {
  try {
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: { pk: PK, sk: skOf(realDir), kind: 'local-dir', dir: realDir, orgId, created_at: new Date().toISOString() },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return 'created';
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
  }
  const [own] = (await claimsAbove(db, realDir)).filter((c) => c.dir === realDir);
  return own?.orgId === orgId ? 'kept' : 'taken';
}

/** Removes the claim on `realDir` if `orgId` holds it. */
export async function deleteLocalDirClaim(db: Db, realDir: string, orgId: string): Promise<void> {
  try {
    await db.doc.send(
      new DeleteCommand({
        TableName: db.table,
        Key: { pk: PK, sk: skOf(realDir) },
        ConditionExpression: 'orgId = :org',
        ExpressionAttributeValues: { ':org': orgId },
      }),
    );
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
  }
}
