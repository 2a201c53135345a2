/**
 * Organizations and API tokens. Tokens are stored only as their SHA-256 (`TOKEN#<hash>`), so a
 * table dump reveals no usable token; a lookup is one GetItem.
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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

/** One organization, or undefined. Strongly consistent: an organization is read right after its token is minted. */
export async function getOrg(db: Db, orgId: string): Promise<OrgItem | undefined> {
  const res = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.org(orgId), ConsistentRead: true }));
  return stripKeys<OrgItem>(res.Item);
}

/**
 * The organization's external id, setting it to `candidate` when it has none. The write is
 * conditional on no id being there, so concurrent first uses agree on one value and an id once
 * handed out (to a customer's trust policy) never changes. Undefined for an unknown organization.
 */
export async function ensureOrgExternalId(db: Db, orgId: string, candidate: string): Promise<string | undefined> {
  try {
    const res = await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.org(orgId),
        UpdateExpression: 'SET external_id = :e',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(external_id)',
        ExpressionAttributeValues: { ':e': candidate },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return (res.Attributes as OrgItem | undefined)?.external_id;
  } catch (e) {
    if (!isConditionalFailure(e)) throw e;
  }
  return (await getOrg(db, orgId))?.external_id;
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
