/**
 * The caller's organization (`GET /api/organizations/current`) and the tenancy policy the app's
 * storage registry builds providers under: the operator's ambient grants and allow-listed roles
 * from the environment, and each organization's external id from the table.
 */
import type { Env } from '../config/env';
import type { Db } from '../db/repo-common';
import { getOrg } from '../db/repo-orgs';
import { NotFoundError } from '../errors';
import type { Principal } from '../http/auth';
import { backend } from '../storage/backends';
import type { TenancyPolicy } from '../storage/tenancy';
import type { StorageType } from '../storage/types';
import { orgExternalId } from './tokens';

/** What a caller may know about its organization. */
export interface OrganizationView {
  id: string;
  title: string;
  /** The value a customer's role trust policy must require as sts:ExternalId. */
  external_id: string;
}

/**
 * The caller's organization with its external id (generated on first need for older ones).
 * @throws NotFoundError when the organization no longer exists
 */
export async function currentOrganization(db: Db, principal: Principal): Promise<OrganizationView> {
  const org = await getOrg(db, principal.orgId);
  if (!org) throw new NotFoundError('Organization not found.');
  return { id: org.id, title: org.title, external_id: org.external_id ?? (await orgExternalId(db, org.id)) };
}

/** The tenancy policy of an app; external ids are immutable, so each is read once per app. */
export function tenancyPolicy(env: Env, db: Db): TenancyPolicy {
  const ids = new Map<string, Promise<string>>();
  return {
    ambientGrants: env.ambientGrants,
    ownAccountId: env.ownAccountId,
    assumableRoleArns: env.assumableRoleArns,
    externalIdOf(orgId) {
      let p = ids.get(orgId);
      if (!p) {
        p = orgExternalId(db, orgId);
        // A failed read (throttling) is retried by the next caller rather than cached.
        p.catch(() => ids.delete(orgId));
        ids.set(orgId, p);
      }
      return p;
    },
  };
}

/**
 * `fields` of a new or updated storage with the organization's external id stored in place, for
 * types that have the field (s3s): responses then show the value the trust policy needs. Run
 * after the connection check, which refuses any other value the caller sent.
 */
export async function withOrgExternalId(db: Db, orgId: string, type: StorageType, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (!backend(type)?.fields.external_id) return fields;
  return { ...fields, external_id: await orgExternalId(db, orgId) };
}
