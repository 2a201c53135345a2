/**
 * The export key rule, the import-side skip rule and the provider listing prefix agree on what a
 * target prefix means: whatever a target storage writes is skipped by a source on the same place,
 * and listed by the target itself. A disagreement brings exported annotations back as tasks.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { exportObjectKey } from '../../shared/export/key';
import { exportPrefixes, underAny } from '../../shared/sync/export-prefix';
import { normalizePrefix } from '../../shared/storage/key-filter';
import type { StorageItem } from '../../shared/db/items';
import type { StorageConfig, StorageType } from '../../shared/storage/types';

const item = (type: StorageType, role: 'import' | 'export', fields: Record<string, unknown>): StorageItem =>
  ({ id: role === 'import' ? 1 : 2, projectId: 1, orgId: 'o', type, role, fields }) as StorageItem;

const place: Record<string, Record<string, unknown>> = {
  s3: { bucket: 'b' },
  s3s: { bucket: 'b', role_arn: 'arn:aws:iam::123456789012:role/r' },
  gcs: { bucket: 'b' },
  azure: { container: 'c', account_name: 'acct' },
  azure_spi: { container: 'c', account_name: 'acct' },
};

/** True when `source` skips the key `target` writes annotation 7 to. */
function skipped(type: StorageType, prefix: string): { key: string; skip: boolean; listed: boolean } {
  const target = item(type, 'export', { ...place[type], prefix });
  const source = item(type, 'import', { ...place[type], prefix: '' });
  const key = exportObjectKey({ type, role: 'export', ...target.fields } as StorageConfig, 7);
  return { key, skip: underAny(exportPrefixes(source, [target]))(key), listed: key.startsWith(normalizePrefix(prefix)) };
}

describe('target prefix: export key, skip rule and listing prefix agree', () => {
  for (const type of Object.keys(place) as StorageType[]) {
    for (const prefix of ['/out', 'out//x', 'out/', '//out//x//', 'out']) {
      it(`${type} prefix ${JSON.stringify(prefix)}`, () => {
        expect(skipped(type, prefix)).toEqual({ key: expect.not.stringMatching(/^\/|\/\//), skip: true, listed: true });
      });
    }
  }

  it('holds for any prefix with at least one non-slash character (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z/]{1,12}$/).filter((p) => /[a-z]/.test(p)), (prefix) => {
        const r = skipped('s3', prefix);
        expect(r.skip && r.listed).toBe(true);
      }),
    );
  });

  it('normalises one way: runs of / collapse, leading and trailing / go, a folder prefix ends in /', () => {
    expect(['/out', 'out//x', '//a///b//', '/', '', null].map(normalizePrefix)).toEqual(['out/', 'out/x/', 'a/b/', '', '', '']);
  });
});
