/**
 * Organizations and API tokens. Tokens are stored only as their SHA-256 (`TOKEN#<hash>`), so a
 * table dump reveals no usable token; a lookup is one GetItem.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from './keys';
import type { OrgItem, TokenItem } from './items';
import { isConditionalFailure, stripKeys, type Db } from './repo-common';

/** Creates an organization (idempotent: an existing org with this id is kept). */
export async function putOrg(db: Db, org: OrgItem): Promise<void> {
  try {
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: { ...keys.org(org.id), ...org },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
  }
}

/** One organization, or undefined. */
export async function getOrg(db: Db, orgId: string): Promise<OrgItem | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.org(orgId) }));
  return stripKeys<OrgItem>(res.Item);
}

/**
 * Stores a token hash. Returns false when the hash already exists (the stored token is kept).
 */
export async function putToken(db: Db, tokenHash: string, token: TokenItem): Promise<boolean> {
  try {
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: { ...keys.token(tokenHash), ...token },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (e) {
    if (isConditionalFailure(e)) return false;
    throw e;
  }
}

/** The token item for a hash, or undefined. Strongly consistent: a fresh token works at once. */
export async function getToken(db: Db, tokenHash: string): Promise<TokenItem | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.token(tokenHash), ConsistentRead: true }));
  return stripKeys<TokenItem>(res.Item);
}
