/**
 * `localfiles`: a directory under LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT (local runtime only).
 * Keys are paths relative to the storage path; task URIs are `/data/local-files/?d=<path
 * relative to the document root>` on this service.
 */
import path from 'node:path';
import { encodeKeyPath } from '../common';
import { KEY_SELECTION_FIELDS, RECURSIVE_SCAN, shortField } from './common-fields';
import type { BackendDefinition } from './definition';
import { str, text } from './values';

const posix = (p: string) => path.posix.normalize(p.replace(/\\/g, '/'));

/** The `localfiles` storage type. */
export const localFilesBackend: BackendDefinition = {
  type: 'localfiles',
  title: 'Local files',
  titleOrder: 4,
  fields: { path: shortField({ required: true }), ...KEY_SELECTION_FIELDS, ...RECURSIVE_SCAN },
  shapeErrors(config, add) {
    const p = str(config.path);
    if (!p) add('path', 'Path must be set for Local Files storage');
    else if (!path.posix.isAbsolute(p.replace(/\\/g, '/'))) add('path', `Path "${p}" must be absolute`);
  },
  async build(config, ctx) {
    const { createLocalProvider } = await import('../providers/local');
    return createLocalProvider({
      ...ctx.common,
      path: String(config.path),
      documentRoot: ctx.settings.localFilesDocumentRoot,
      servingEnabled: ctx.settings.localFilesServingEnabled ?? true,
      dataDir: ctx.settings.dataDir,
    });
  },
  // Pure: no symlink resolution. Segments are encoded so `?`, `#` and `%` survive the query.
  uriFor(config, key, { documentRoot }) {
    const dir = posix(String(config.path ?? '').trim());
    return `/data/local-files/?d=${encodeKeyPath(path.posix.relative(posix(documentRoot), path.posix.join(dir, key)))}`;
  },
  // Keys are relative to the storage path: annotations land at `join(path, <id>)`.
  exportKeyPrefix: () => '',
  location: { family: 'localfiles', place: (f) => posix(text(f.path)).replace(/\/+$/, ''), nested: true },
  capabilities: {
    relativeUri: true,
    enabledBy: 'localFilesStorageEnabled',
    previewKeyWithPath: true,
    // Label Studio pretty-prints the annotations it exports to local files.
    exportJsonIndent: 2,
    servesHostFiles: true,
    eventSync: 'subscriber',
  },
};
