/**
 * Resolve URLs: `<publicBaseUrl>/tasks/<id>/resolve/?fileuri=<b64>&token=<media token>`
 * (Label Studio's shape, plus the media token). Also used for project routes.
 */
import { encodeFileUri } from './fileuri';
import { signMediaToken } from './media-token';

/** Everything needed to mint resolve URLs for one organization. */
export interface ResolveUrlSigner {
  orgId: string;
  /** `app.env.publicBaseUrl` without a trailing slash; empty → relative URLs. */
  baseUrl: string;
  signingKey: Uint8Array;
  tokenTtlSeconds: number;
  /** Clock override for tests (epoch seconds). */
  nowSec?: number;
}

/** The resolve URL of `uri` for a task (default) or a project. */
export function buildResolveUrl(signer: ResolveUrlSigner, uri: string, target: { taskId: number } | { projectId: number }): string {
  const [scope, id, path] = 'taskId' in target ? (['task', target.taskId, 'tasks'] as const) : (['project', target.projectId, 'projects'] as const);
  const token = signMediaToken(signer.signingKey, { orgId: signer.orgId, scope, id, uri }, signer.tokenTtlSeconds, signer.nowSec);
  return `${signer.baseUrl}/${path}/${id}/resolve/?fileuri=${encodeFileUri(uri)}&token=${token}`;
}
