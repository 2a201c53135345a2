/**
 * Bodies of `POST/PATCH/PUT /api/webhooks/`, registered for OpenAPI. Unknown keys are ignored, as
 * Label Studio does. Field rules beyond types (header names, action names, the SSRF guard of
 * `url`) are checked in api.ts.
 */
import { z } from 'zod';
import { apiRegistry } from '../api/validation';

const bool = (d: string) => z.boolean({ error: 'Must be a valid boolean.' }).optional().describe(d);

export const WebhookWriteSchema = z
  .object({
    url: z.string({ error: 'This field is required.' }).min(1, 'This field may not be blank.').max(2048, 'Ensure this field has no more than 2048 characters.').describe('http(s) URL the events are POSTed to; must pass the SSRF guard (LABELSYNC_ALLOWED_ENDPOINTS).'),
    project: z.number({ error: 'A valid integer is required.' }).int().nullable().optional().describe('Project id (create only); null or absent: an organization-level webhook.'),
    send_payload: bool('false: only the action, project id and object ids are sent (default true).'),
    send_for_all_actions: bool('true: every Label Studio action of its scope; labelsync actions only when listed in actions (default true).'),
    headers: z.record(z.string(), z.unknown(), { error: 'Expected a dictionary of items.' }).optional().describe('Extra request headers (at most 10), write-only: responses mask the values.'),
    is_active: bool('false: never fires (default true).'),
    actions: z.array(z.string({ error: 'Each action must be a string.' }), { error: 'Expected a list of items.' }).optional().describe('Actions it fires for (see GET /api/webhooks/info/); absent on PATCH: unchanged.'),
    rotate_secret: bool('PATCH/PUT: true generates a new signing secret (returned once); the old one still signs for 24 h.'),
  })
  .register(apiRegistry, { id: 'WebhookWrite' });

export type WebhookWrite = z.output<typeof WebhookWriteSchema>;

/** PATCH: every field optional. */
export const WebhookPatchSchema = WebhookWriteSchema.partial();
