/** Push payload parsing (Pub/Sub envelopes, Event Grid and CloudEvents bodies) and the JWKS cache. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError, UpstreamError } from '../../shared/errors';
import { parsePubSubPush } from '../../shared/api/storage-events/pubsub-push';
import { parseEventGrid } from '../../shared/api/storage-events/event-grid';
import { createJwksLookup } from '../../shared/api/storage-events/jwks';
import { webhookSecret, webhookSecretMatches } from '../../shared/api/storage-events/webhook-secret';

const envelope = (attributes: Record<string, unknown>, resource?: Record<string, unknown>) => ({
  message: { attributes, ...(resource ? { data: Buffer.from(JSON.stringify(resource)).toString('base64') } : {}), messageId: '1' },
});

function fieldOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return Object.keys(e.fields);
    throw e;
  }
  throw new Error('did not throw');
}

describe('Pub/Sub push envelope', () => {
  it('maps the four Cloud Storage event types and takes the generation as the sequencer', () => {
    const kinds = ['OBJECT_FINALIZE', 'OBJECT_METADATA_UPDATE', 'OBJECT_DELETE', 'OBJECT_ARCHIVE'].map(
      (eventType) => parsePubSubPush(envelope({ eventType, bucketId: 'b', objectId: 'k', objectGeneration: '17' }), 'b')!.kind,
    );
    expect(kinds).toEqual(['created', 'created', 'removed', 'removed']);
    const e = parsePubSubPush(envelope({ eventType: 'OBJECT_FINALIZE', bucketId: 'b', objectId: 'a/b c.png', objectGeneration: '9' }, { etag: 'E1', size: '42', updated: '2026-01-01T00:00:00Z' }), 'b')!;
    expect(e).toMatchObject({ key: 'a/b c.png', etag: 'E1', size: 42, lastModified: new Date('2026-01-01T00:00:00Z') });
    const later = parsePubSubPush(envelope({ eventType: 'OBJECT_FINALIZE', bucketId: 'b', objectId: 'k', objectGeneration: '10' }), 'b')!;
    expect([e.sequencer, later.sequencer]).toEqual(['9', '10']);
  });

  it('ignores non-object notifications and names the field of a bad envelope', () => {
    expect(parsePubSubPush(envelope({ eventType: 'SOMETHING_ELSE', bucketId: 'b' }), 'b')).toBeUndefined();
    expect(fieldOf(() => parsePubSubPush({}, 'b'))).toEqual(['message']);
    expect(fieldOf(() => parsePubSubPush(envelope({ bucketId: 'b' }), 'b'))).toEqual(['message.attributes.eventType']);
    expect(fieldOf(() => parsePubSubPush(envelope({ eventType: 'OBJECT_DELETE', bucketId: 'x', objectId: 'k' }), 'b'))).toEqual(['message.attributes.bucketId']);
    expect(fieldOf(() => parsePubSubPush(envelope({ eventType: 'OBJECT_DELETE', bucketId: 'b' }), 'b'))).toEqual(['message.attributes.objectId']);
    expect(fieldOf(() => parsePubSubPush(envelope({ eventType: 'OBJECT_DELETE', bucketId: 'b', objectId: 'k', objectGeneration: '1e3' }), 'b'))).toEqual(['message.attributes.objectGeneration']);
    expect(fieldOf(() => parsePubSubPush({ message: { attributes: { eventType: 'OBJECT_DELETE', bucketId: 'b', objectId: 'k' }, data: '!!not base64 json' } }, 'b'))).toEqual(['message.data']);
  });
});

describe('Event Grid and CloudEvents bodies', () => {
  const subject = (c: string, k: string) => `/blobServices/default/containers/${c}/blobs/${k}`;

  it('reads Event Grid arrays, CloudEvents (single and batched), and counts other event types', () => {
    const grid = parseEventGrid(
      [
        { eventType: 'Microsoft.Storage.BlobCreated', subject: subject('c', 'dir/a.png'), eventTime: 't1', data: { eTag: '"0x1"', contentLength: 3, sequencer: '01' } },
        { eventType: 'Microsoft.Storage.BlobDeleted', subject: subject('c', 'dir/b.png'), data: { sequencer: '02' } },
        { eventType: 'Microsoft.Storage.BlobTierChanged', subject: subject('c', 'dir/b.png'), data: {} },
      ],
      'c',
    );
    expect(grid).toEqual({
      events: [
        { key: 'dir/a.png', kind: 'created', etag: '0x1', size: 3, sequencer: '01', eventTime: 't1' },
        { key: 'dir/b.png', kind: 'removed', sequencer: '02' },
      ],
      ignored: 1,
    });
    const single = parseEventGrid({ specversion: '1.0', type: 'Microsoft.Storage.BlobCreated', subject: subject('c', 'x'), time: 't', data: {} }, 'c');
    expect(single).toMatchObject({ events: [{ key: 'x', kind: 'created', eventTime: 't' }] });
    expect(parseEventGrid([{ specversion: '1.0', type: 'Microsoft.Storage.BlobDeleted', subject: subject('c', 'y'), data: {} }], 'c')).toMatchObject({ events: [{ key: 'y', kind: 'removed' }] });
  });

  it('answers the validation event and refuses other containers and malformed events by field', () => {
    expect(parseEventGrid([{ eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: { validationCode: 'abc' } }], 'c')).toEqual({ validationCode: 'abc' });
    expect(fieldOf(() => parseEventGrid([{ eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: {} }], 'c'))).toEqual(['[0].data.validationCode']);
    expect(fieldOf(() => parseEventGrid([{}, {}], 'c'))).toEqual(['[0].eventType']);
    expect(fieldOf(() => parseEventGrid([{ eventType: 'Microsoft.Storage.BlobCreated', subject: subject('other', 'k') }], 'c'))).toEqual(['[0].subject']);
    expect(fieldOf(() => parseEventGrid([{ eventType: 'Microsoft.Storage.BlobCreated', subject: '/blobServices/default/containers/c' }], 'c'))).toEqual(['[0].subject']);
    expect(fieldOf(() => parseEventGrid('text', 'c'))).toEqual(['non_field_errors']);
  });
});

describe('webhook secret', () => {
  it('differs per storage and per signing key, and matches only itself', () => {
    const k1 = Buffer.alloc(32, 1);
    const k2 = Buffer.alloc(32, 2);
    expect(webhookSecret(k1, 1)).not.toBe(webhookSecret(k1, 2));
    expect(webhookSecret(k1, 1)).not.toBe(webhookSecret(k2, 1));
    expect(webhookSecretMatches(k1, 1, webhookSecret(k1, 1))).toBe(true);
    expect(webhookSecretMatches(k1, 1, webhookSecret(k1, 2))).toBe(false);
    expect(webhookSecretMatches(k1, 1, undefined)).toBe(false);
    expect(webhookSecretMatches(k1, 1, 'short')).toBe(false);
  });
});

describe('JWKS lookup', () => {
  it('caches the set, refetches for an unknown kid at most once per interval, and reports an unreachable server as UpstreamError', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let kids = ['a'];
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' });
      res.end(JSON.stringify({ keys: kids.map((kid) => ({ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig' })) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      let t = 1_000_000;
      const lookup = createJwksLookup({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, now: () => t, minRefetchMs: 60_000 });
      expect(await lookup('a')).toBeDefined();
      expect(await lookup('a')).toBeDefined();
      expect(fetches).toBe(1);
      kids = ['a', 'b'];
      // Unknown kid right after a fetch: no refetch yet (kid flooding costs nothing).
      expect(await lookup('b')).toBeUndefined();
      expect(fetches).toBe(1);
      t += 61_000;
      expect(await lookup('b')).toBeDefined();
      expect(fetches).toBe(2);
      t += 601_000;
      await lookup('a');
      expect(fetches).toBe(3);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const dead = createJwksLookup({ url: 'http://127.0.0.1:1/', timeoutMs: 2_000 });
    await expect(dead('a')).rejects.toBeInstanceOf(UpstreamError);
  });
});
