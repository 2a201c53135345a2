import { describe, expect, it } from 'vitest';
import { compareSequencers, isStale, newestPerKey } from '../../shared/sync/object-events/order';
import { batchesOf, MIN_EVENT_BATCH } from '../../shared/sync/object-events/apply-object-events';
import { parseS3Notification } from '../../shared/sync/object-events/s3-events';
import { missingKeyspaceFlags } from '../../shared/storage/providers/redis';
import { selectsKey, compileKeyFilter } from '../../shared/storage/key-filter';

describe('event order', () => {
  it('compares S3 sequencers of different lengths as hex numbers', () => {
    expect(compareSequencers('0A', 'A')).toBe(0);
    expect(compareSequencers('00617F08299329D189', '617f08299329d18a')).toBe(-1);
    expect(compareSequencers('100', 'FF')).toBe(1);
  });

  it('keeps the newest event per key: sequencer, then event time, then arrival', () => {
    const out = newestPerKey([
      { key: 'b', kind: 'created', sequencer: '02' },
      { key: 'a', kind: 'created', eventTime: '2026-01-01T00:00:02Z' },
      { key: 'b', kind: 'removed', sequencer: '01' },
      { key: 'a', kind: 'removed', eventTime: '2026-01-01T00:00:01Z' },
      { key: 'c', kind: 'created' },
      { key: 'c', kind: 'removed' },
    ]);
    expect(out.map((e) => [e.key, e.kind])).toEqual([['a', 'created'], ['b', 'created'], ['c', 'removed']]);
  });

  it('an event older than the last applied one is stale; without marks nothing is', () => {
    expect(isStale({ seq: '01' }, { seq: '02' })).toBe(true);
    expect(isStale({ seq: '03' }, { seq: '02' })).toBe(false);
    expect(isStale({}, { seq: '02' })).toBe(false);
    expect(isStale({ seq: '01' }, undefined)).toBe(false);
  });
});

describe('S3 notifications', () => {
  it('parses EventBridge events (keys as stored) and direct notifications (form-encoded keys)', () => {
    const eb = { source: 'aws.s3', 'detail-type': 'Object Deleted', account: '111122223333', time: '2026-01-01T00:00:00Z', detail: { bucket: { name: 'b' }, object: { key: 'a b+c.json', sequencer: '0A' } } };
    expect(parseS3Notification(JSON.stringify(eb))).toEqual([{ bucket: 'b', account: '111122223333', event: { key: 'a b+c.json', kind: 'removed', sequencer: '0A', eventTime: '2026-01-01T00:00:00Z', etag: undefined, size: undefined } }]);
    const direct = { Records: [{ eventName: 'ObjectCreated:Put', eventTime: 't', s3: { bucket: { name: 'b' }, object: { key: 'red+flower%281%29.jpg', size: 3, eTag: 'e' } } }] };
    expect(parseS3Notification(JSON.stringify(direct))?.[0].event).toMatchObject({ key: 'red flower(1).jpg', kind: 'created', size: 3, etag: 'e' });
  });

  it('refuses other shapes; the S3 test event carries nothing', () => {
    expect(parseS3Notification('nope')).toBeUndefined();
    expect(parseS3Notification(JSON.stringify({ source: 'aws.s3', 'detail-type': 'Object Tagging', detail: {} }))).toBeUndefined();
    expect(parseS3Notification(JSON.stringify({ Event: 's3:TestEvent' }))).toEqual([]);
  });
});

describe('key selection of notified keys', () => {
  it('applies prefix, recursive_scan, regex_filter and folder placeholders like a listing', () => {
    const rule = { prefix: 'in/', recursive: false, filter: compileKeyFilter('.*\\.json') };
    expect(selectsKey('in/a.json', rule)).toBe(true);
    expect(selectsKey('in/sub/a.json', rule)).toBe(false);
    expect(selectsKey('in/sub/a.json', { ...rule, recursive: true })).toBe(true);
    expect(selectsKey('out/a.json', rule)).toBe(false);
    expect(selectsKey('in/a.txt', rule)).toBe(false);
    expect(selectsKey('in/dir/', { ...rule, recursive: true })).toBe(false);
  });
});

describe('redis notify-keyspace-events', () => {
  it('names what is missing', () => {
    expect(missingKeyspaceFlags('')).toBe('K or E, $, g');
    expect(missingKeyspaceFlags('K$')).toBe('g');
    expect(missingKeyspaceFlags('KA')).toBeUndefined();
    expect(missingKeyspaceFlags('E$gx')).toBeUndefined();
  });
});

describe('event batches', () => {
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${String(i).padStart(5, '0')}`);

  it('spreads a burst over the concurrent batches, each key in exactly one, at most a chunk each', () => {
    const all = keys(2000);
    const b = batchesOf(all, { chunkSize: 1000, chunkConcurrency: 8 });
    expect(b.length).toBe(8);
    expect(b.flat()).toEqual(all);
    expect(new Set(b.flat()).size).toBe(all.length);
    expect(batchesOf(keys(20_000), { chunkSize: 1000, chunkConcurrency: 8 }).every((x) => x.length <= 1000)).toBe(true);
  });

  it('keeps small bursts in one batch (fixed costs per batch), at most a chunk', () => {
    expect(batchesOf(keys(MIN_EVENT_BATCH), { chunkSize: 1000, chunkConcurrency: 8 }).length).toBe(1);
    expect(batchesOf(keys(300), { chunkSize: 50, chunkConcurrency: 2 }).map((x) => x.length)).toEqual([50, 50, 50, 50, 50, 50]);
    expect(batchesOf([], { chunkSize: 1000, chunkConcurrency: 8 })).toEqual([]);
  });
});
