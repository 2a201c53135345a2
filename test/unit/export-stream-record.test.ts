import { describe, expect, it } from 'vitest';
import { decodeAnnotationRecord, fromImage, type StreamRecordLike } from '../../shared/export/stream-record';
import { groupChanges } from '../../shared/export/process-records';

const img = (kind: string, id: number, version: number) => ({
  pk: { S: `ANNOTATION#${id}` }, kind: { S: kind }, id: { N: String(id) }, projectId: { N: '3' }, version: { N: String(version) },
});
const rec = (eventName: string, seq: string, image: Record<string, unknown>): StreamRecordLike => ({
  eventName,
  dynamodb: { SequenceNumber: seq, ApproximateCreationDateTime: 1_700_000_000, ...(eventName === 'REMOVE' ? { OldImage: image } : { NewImage: image }) },
} as StreamRecordLike);

describe('stream record decoding', () => {
  it('decodes INSERT/MODIFY as upserts with the new version, REMOVE from the old image', () => {
    expect(decodeAnnotationRecord(rec('INSERT', '100', img('annotation', 7, 1)))).toEqual({
      sequenceNumber: '100', op: 'upsert', annotationId: 7, projectId: 3, version: 1, recordedAt: 1_700_000_000_000,
    });
    expect(decodeAnnotationRecord(rec('REMOVE', '101', img('annotation', 7, 2)))).toMatchObject({ op: 'remove', version: 2 });
  });
  it('ignores records of other item kinds', () => {
    expect(decodeAnnotationRecord(rec('INSERT', '1', img('task', 7, 1)))).toBeNull();
    expect(decodeAnnotationRecord(rec('MODIFY', '1', img('export_link', 7, 1)))).toBeNull();
  });
  it('refuses an annotation record without id', () => {
    const image = img('annotation', 7, 1) as Record<string, unknown>;
    delete image.id;
    expect(() => decodeAnnotationRecord(rec('INSERT', '1', image))).toThrow(/malformed/);
  });
  it('unmarshalls every attribute type', () => {
    expect(
      fromImage({
        s: { S: 'x' }, n: { N: '1.5' }, b: { BOOL: true }, z: { NULL: true }, l: { L: [{ N: '1' }, { S: 'a' }] },
        m: { M: { k: { S: 'v' } } }, ss: { SS: ['a'] }, ns: { NS: ['2'] }, bin: { B: Buffer.from('hi').toString('base64') },
      }),
    ).toEqual({ s: 'x', n: 1.5, b: true, z: null, l: [1, 'a'], m: { k: 'v' }, ss: ['a'], ns: [2], bin: Buffer.from('hi') });
  });
  it('groups changes per annotation keeping record order', () => {
    const cs = ['1', '2', '3', '4'].map((seq, i) => decodeAnnotationRecord(rec('MODIFY', seq, img('annotation', i % 2 ? 8 : 7, i)))!);
    const g = groupChanges(cs);
    expect(g.map((x) => [x.annotationId, x.changes.map((c) => c.sequenceNumber)])).toEqual([[7, ['1', '3']], [8, ['2', '4']]]);
  });
});
