/**
 * Local files provider contract on a temporary document root: sorted depth-first walk (ordered:
 * keys in ascending UTF-8 byte order, so the contract's order and resume checks apply), keys
 * relative to the storage path, `/data/local-files/?d=` presign URLs.
 */
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StorageConfig } from '../../shared/storage/types';
import { runProviderContract } from './provider-contract';
import { testSettings } from './helpers';

runProviderContract('localfiles', async () => {
  const root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'labelsync-contract-')));
  const data = path.join(root, 'dataset');
  await mkdir(path.join(data, 'tree'), { recursive: true });
  for (const d of ['bulk', 'special', 'nothing-here']) await mkdir(path.join(data, d), { recursive: true });
  await mkdir(path.join(root, 'empty'));
  const base: StorageConfig = { type: 'localfiles', role: 'import', path: data, recursive_scan: true };
  return {
    base,
    scoped: (prefix: string, extra: Partial<StorageConfig> = {}) => ({ ...base, path: path.join(data, prefix), ...extra }),
    keyOf: (prefix: string, full: string) => full.slice(prefix.length + 1),
    empty: { ...base, path: path.join(root, 'empty') },
    options: { settings: testSettings({ localFilesDocumentRoot: root }) },
    presign: 'local',
    verifiesSignatures: false,
    documentRoot: root,
    hierarchical: true,
    placeholders: false,
    importNeedsObject: false,
    notApplicable: {
      missing: 'local directories are checked when the storage is created (see the local-files tests)',
      wrongCredentials: 'local files have no credentials',
      presignRefusal: 'local-files URLs point at this service and carry no signature',
    },
    async cleanup() {
      await rm(root, { recursive: true, force: true });
    },
  };
});
