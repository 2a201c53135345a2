/**
 * The webhook action catalogue: Label Studio's actions (names, payload keys, organization-only
 * flags as Label Studio defines them) and labelsync's own storage actions. labelsync actions are
 * opt-in: a webhook receives one only when it lists it in `actions`, whatever its
 * `send_for_all_actions`, so a Label Studio receiver never sees an action it does not know.
 */

export interface ActionInfo {
  /** Human label (Label Studio's UI name). */
  name: string;
  /** Top-level payload key carrying the object(s). */
  key: string;
  /** Only organization-level webhooks receive it (the event has no project). */
  organizationOnly: boolean;
  /** A labelsync extension: sent only to webhooks that list it. */
  extension: boolean;
  /** The payload value under `key` is a list (batched into several POSTs when long). */
  many: boolean;
}

const ls = (name: string, key: string, many = false, organizationOnly = false): ActionInfo => ({ name, key, many, organizationOnly, extension: false });
const ours = (name: string, key: string): ActionInfo => ({ name, key, many: false, organizationOnly: false, extension: true });

export const ACTIONS = {
  PROJECT_CREATED: ls('Project created', 'project', false, true),
  PROJECT_UPDATED: ls('Project updated', 'project'),
  PROJECT_DELETED: ls('Project deleted', 'project', false, true),
  TASKS_CREATED: ls('Task created', 'tasks', true),
  TASKS_DELETED: ls('Task deleted', 'tasks', true),
  ANNOTATION_CREATED: ls('Annotation created', 'annotation'),
  ANNOTATIONS_CREATED: ls('Annotations created', 'annotation', true),
  ANNOTATION_UPDATED: ls('Annotation updated', 'annotation'),
  ANNOTATIONS_DELETED: ls('Annotation deleted', 'annotations', true),
  LABEL_LINK_CREATED: ls('Label link created', 'label_link'),
  LABEL_LINK_UPDATED: ls('Label link updated', 'label_link'),
  LABEL_LINK_DELETED: ls('Label link deleted', 'label_link'),
  STORAGE_SYNC_COMPLETED: ours('Storage sync completed', 'storage_sync'),
  STORAGE_SYNC_FAILED: ours('Storage sync failed', 'storage_sync'),
  EXPORT_FAILED: ours('Export to a target storage failed', 'export'),
} as const satisfies Record<string, ActionInfo>;

export type WebhookAction = keyof typeof ACTIONS;

export const ACTION_NAMES = Object.keys(ACTIONS) as WebhookAction[];

export function isAction(a: string): a is WebhookAction {
  return Object.prototype.hasOwnProperty.call(ACTIONS, a);
}

/** `GET /api/webhooks/info/`: Label Studio's shape; `?organization-only=` accepts the usual boolean spellings. */
export function actionsInfo(organizationOnly?: string): Record<string, Record<string, unknown>> {
  const only = organizationOnly === undefined ? undefined : /^(true|1|yes|on)$/i.test(organizationOnly);
  const out: Record<string, Record<string, unknown>> = {};
  for (const a of ACTION_NAMES) {
    const info = ACTIONS[a];
    if (only !== undefined && info.organizationOnly !== only) continue;
    out[a] = { name: info.name, description: info.extension ? 'labelsync extension: sent only to webhooks that list it in actions' : '', key: info.key, 'organization-only': info.organizationOnly };
  }
  return out;
}

/** EventBridge detail-type of an action: `STORAGE_SYNC_COMPLETED` → `labelsync.storage.sync.completed`. */
export function detailTypeOf(action: WebhookAction): string {
  return `labelsync.${action.toLowerCase().replace(/_/g, '.')}`;
}
