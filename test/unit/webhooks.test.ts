/** Pure webhook logic: signatures, retry delays, matching (labelsync actions are opt-in) and body batching. */
import { describe, expect, it } from 'vitest';
import type { WebhookItem } from '../../shared/db/repo-webhooks';
import { actionsInfo, detailTypeOf } from '../../shared/webhooks/actions';
import { MAX_RETRY_DELAY_MS, retryDelayMs } from '../../shared/webhooks/deliver';
import { webhookMatches } from '../../shared/webhooks/emit';
import { eventBodies, MAX_BODY_BYTES } from '../../shared/webhooks/payloads';
import { signatureHeader, verifySignature } from '../../shared/webhooks/signature';
import type { LabelsyncEvent } from '../../shared/webhooks/types';

const hook = (over: Partial<WebhookItem> = {}): WebhookItem => ({
  kind: 'webhook', id: 1, orgId: 'o', project: 7, url: 'https://h.example.com', send_payload: true, send_for_all_actions: true, header_names: [],
  is_active: true, consecutive_failures: 0, actions: [], secret_enc: 'x', created_at: '', updated_at: '', ...over,
});
const event = (action: LabelsyncEvent['action'], projectId: number | null = 7): LabelsyncEvent => ({ action, orgId: 'o', project: projectId === null ? null : { id: projectId }, objects: { id: 1 } });

describe('signatures', () => {
  it('verifies its own header, any of several v1 values, and refuses old, future, altered or foreign ones', () => {
    const now = 1_800_000_000;
    const h = signatureHeader(['s1', 's0'], '{"a":1}', now);
    expect(verifySignature(h, '{"a":1}', 's1', now)).toBe(true);
    expect(verifySignature(h, '{"a":1}', 's0', now + 300)).toBe(true);
    expect(verifySignature(h, '{"a":1}', 's1', now + 301)).toBe(false);
    expect(verifySignature(h, '{"a":1}', 's1', now - 301)).toBe(false);
    expect(verifySignature(h, '{"a":2}', 's1', now)).toBe(false);
    expect(verifySignature(h, '{"a":1}', 's2', now)).toBe(false);
    expect(verifySignature('garbage', '{"a":1}', 's1', now)).toBe(false);
  });
});

describe('retry delays', () => {
  it('grow ×4 from the base, stay within [d/2, d] and never pass SQS 15-minute cap', () => {
    expect(retryDelayMs(1, 30_000, () => 0)).toBe(15_000);
    expect(retryDelayMs(1, 30_000, () => 1)).toBe(30_000);
    expect(retryDelayMs(2, 30_000, () => 1)).toBe(120_000);
    expect(retryDelayMs(4, 30_000, () => 1)).toBe(MAX_RETRY_DELAY_MS);
    const total = [1, 2, 3, 4].reduce((s, a) => s + retryDelayMs(a, 30_000, () => 1), 0);
    expect(total / 60_000).toBeLessThanOrEqual(30);
  });
});

describe('matching', () => {
  it('follows Label Studio for its actions and sends labelsync actions only when listed', () => {
    expect(webhookMatches(hook(), event('TASKS_CREATED'))).toBe(true);
    expect(webhookMatches(hook({ project: 8 }), event('TASKS_CREATED'))).toBe(false);
    expect(webhookMatches(hook({ project: null }), event('TASKS_CREATED'))).toBe(true);
    expect(webhookMatches(hook({ is_active: false }), event('TASKS_CREATED'))).toBe(false);
    expect(webhookMatches(hook({ orgId: 'p' }), event('TASKS_CREATED'))).toBe(false);
    expect(webhookMatches(hook({ send_for_all_actions: false, actions: ['TASKS_DELETED'] }), event('TASKS_CREATED'))).toBe(false);
    expect(webhookMatches(hook(), event('STORAGE_SYNC_COMPLETED'))).toBe(false);
    expect(webhookMatches(hook({ actions: ['STORAGE_SYNC_COMPLETED'] }), event('STORAGE_SYNC_COMPLETED'))).toBe(true);
    // Organization-only actions reach organization-level webhooks only.
    expect(webhookMatches(hook(), event('PROJECT_CREATED', null))).toBe(false);
    expect(webhookMatches(hook({ project: null }), event('PROJECT_CREATED', null))).toBe(true);
  });

  it('names detail-types after the action and accepts the usual boolean spellings in info', () => {
    expect(detailTypeOf('STORAGE_SYNC_COMPLETED')).toBe('labelsync.storage.sync.completed');
    expect(Object.keys(actionsInfo('1'))).toEqual(['PROJECT_CREATED', 'PROJECT_DELETED']);
    expect(Object.keys(actionsInfo('no'))).toContain('EXPORT_FAILED');
  });
});

describe('bodies', () => {
  it('split a long task list by count and bytes, each body a complete Label Studio payload', () => {
    const tasks = Array.from({ length: 250 }, (_, i) => ({ id: i, data: { text: 'x'.repeat(2000) } }));
    const e: LabelsyncEvent = { action: 'TASKS_CREATED', orgId: 'o', project: { id: 7, title: 't' }, objects: tasks };
    const byCount = eventBodies(e, true, 100).map((b) => JSON.parse(b.body));
    expect(byCount.map((b) => b.tasks.length)).toEqual([100, 100, 50]);
    expect(byCount.every((b) => b.action === 'TASKS_CREATED' && b.project.id === 7)).toBe(true);
    const byBytes = eventBodies(e, true, 10_000);
    expect(byBytes.length).toBeGreaterThan(1);
    expect(byBytes.every((b) => Buffer.byteLength(b.body) <= MAX_BODY_BYTES)).toBe(true);
    expect(byBytes.flatMap((b) => JSON.parse(b.body).tasks.map((t: { id: number }) => t.id))).toEqual(tasks.map((t) => t.id));
    expect(new Set(byBytes.map((b) => b.suffix)).size).toBe(byBytes.length);
  });

  it('send the thin form without payload: action, project id, object ids', () => {
    const e: LabelsyncEvent = { action: 'TASKS_DELETED', orgId: 'o', project: { id: 7, title: 't' }, objects: [{ id: 1 }, { id: 2 }] };
    expect(JSON.parse(eventBodies(e, false, 100)[0].body)).toEqual({ action: 'TASKS_DELETED', tasks: [{ id: 1 }, { id: 2 }], project: { id: 7 } });
  });
});
