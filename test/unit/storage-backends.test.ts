/**
 * The backend definitions are the one source of what a storage type is: every table the API,
 * the resolver and the sync use derives from them, consistently, and a new definition is the
 * only step needed to get its schemas, secrets, schemes and provider.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { storageTypes, parseStorageType } from '../../shared/api/storages';
import type { AppContext } from '../../shared/context';
import { serializeExportDocument } from '../../shared/export/content';
import { localFilesStoragePaths } from '../../shared/resolve/deps';
import { hostFileTypes, previewKey, typeEnabled } from '../../shared/storage/backends/capabilities';
import { SECRET_FIELDS, storageBodySchema, storageDefaults, storageFields, storageResponseSchema, TYPE_TITLES } from '../../shared/api/storage-schemas';
import { BACKENDS, BACKEND_LIST } from '../../shared/storage/backends';
import type { BackendDefinition } from '../../shared/storage/backends/definition';
import { allSecretFieldNames, defaultsOf, fieldsOf, schemeTable, secretFieldsOf } from '../../shared/storage/backends/derive';
import { KEY_SELECTION_FIELDS, shortField } from '../../shared/storage/backends/common-fields';
import { createStorageRegistry, parseConfigErrors } from '../../shared/storage/registry';
import { SECRET_FIELD_NAMES } from '../../shared/logging';
import { parseStorageUri, storageTypesForScheme, URI_SCHEMES } from '../../shared/resolve/schemes';
import { toResolvableStorage } from '../../shared/resolve/storage-match';
import { STORAGE_TYPES, type StorageConfig, type StorageProvider, type StorageType } from '../../shared/storage/types';
import type { StorageItem } from '../../shared/db/items';

const settings = { allowedEndpoints: [], maxReadBytes: 1000, localFilesDocumentRoot: '/', connectTimeoutMs: 3000, requestTimeoutMs: 10000 };

describe('registered definitions', () => {
  it('define every StorageType exactly once, under its own name', () => {
    expect(Object.keys(BACKENDS).sort()).toEqual([...STORAGE_TYPES].sort());
    for (const [type, def] of Object.entries(BACKENDS)) expect(def.type).toBe(type);
  });

  it('keep the types endpoint order and titles', () => {
    expect(TYPE_TITLES.map((t) => t.name)).toEqual(['s3', 'gcs', 'azure', 'redis', 'localfiles', 's3s', 'azure_spi']);
    expect(new Set(BACKEND_LIST.map((d) => d.titleOrder)).size).toBe(BACKEND_LIST.length);
  });

  it('derive secret lists that every consumer sees (API, logs, tracebacks)', () => {
    for (const def of BACKEND_LIST) {
      expect(SECRET_FIELDS[def.type]).toEqual(secretFieldsOf(def));
      for (const f of secretFieldsOf(def)) {
        expect(SECRET_FIELD_NAMES.has(f)).toBe(true);
        expect(storageFields(def.type, 'import')).toContain(f);
        const response = storageResponseSchema(def.type, 'import').shape;
        expect(response).toHaveProperty(`has_${f}`);
        expect(response).not.toHaveProperty(f);
        expect(storageBodySchema(def.type, 'import', 'create').shape).toHaveProperty(f);
      }
    }
    expect(allSecretFieldNames(BACKEND_LIST).length).toBeGreaterThan(0);
  });

  it('give every default a field of the same type and role, valid under its schema', () => {
    for (const def of BACKEND_LIST) {
      for (const role of ['import', 'export'] as const) {
        const fields = new Map(fieldsOf(def, role));
        for (const [name, value] of Object.entries(storageDefaults(def.type, role))) {
          expect(fields.has(name), `${def.type}/${role}/${name}`).toBe(true);
          expect(fields.get(name)!.schema.safeParse(value).success, `${def.type}/${role}/${name}`).toBe(true);
        }
        expect(new Set(storageFields(def.type, role)).size).toBe(storageFields(def.type, role).length);
      }
    }
  });

  it('flag every required field in the shape rules of an empty config', () => {
    for (const def of BACKEND_LIST) {
      const errors = parseConfigErrors({ type: def.type, role: 'import' });
      for (const [name, f] of Object.entries(def.fields)) if (f.required) expect(errors, `${def.type}.${name}`).toHaveProperty(name);
    }
  });

  it('answer each scheme they declare, and a URI they write parses back to the bucket and key', () => {
    for (const def of BACKEND_LIST) {
      for (const scheme of def.resolves?.schemes ?? []) {
        expect(URI_SCHEMES).toContain(scheme);
        expect(storageTypesForScheme(scheme)).toContain(def.type);
      }
      if (!def.resolves) continue;
      const config = { type: def.type, role: 'import', [def.resolves.bucketField]: 'the-bucket' } as StorageConfig;
      const parsed = parseStorageUri(def.uriFor(config, 'a/b c.png', { documentRoot: '/' }));
      expect(parsed).toMatchObject({ bucket: 'the-bucket', key: 'a/b c.png' });
      expect(def.resolves.schemes).toContain(parsed!.scheme);
      const item = { id: 1, type: def.type, role: 'import', fields: { [def.resolves.bucketField]: 'the-bucket' } } as unknown as StorageItem;
      expect(toResolvableStorage(item)?.bucket).toBe('the-bucket');
    }
    expect(URI_SCHEMES).toEqual([...URI_SCHEMES].sort((a, b) => b.length - a.length));
  });

  it('declare legacy_auth as accepted with no effect', () => {
    expect(BACKENDS.s3s.fields.legacy_auth).toMatchObject({ noEffect: true });
    expect(storageFields('s3s', 'import')).toContain('legacy_auth');
  });
});

describe('a new definition is the only step', () => {
  const built: StorageConfig[] = [];
  const fake: BackendDefinition = {
    type: 'fake' as StorageType,
    title: 'Fake store',
    titleOrder: 99,
    fields: {
      ...KEY_SELECTION_FIELDS,
      shelf: shortField({ required: true }),
      api_key: shortField({ secret: true }),
      mode: { schema: z.enum(['a', 'b']).nullable(), role: 'import', default: 'a' },
    },
    shapeErrors: (config, add) => {
      if (!config.shelf) add('shelf', 'This field is required.');
    },
    build: async (config) => {
      built.push(config);
      return { type: config.type, scheme: 'fake', close: async () => undefined } as unknown as StorageProvider;
    },
    uriFor: (config, key) => `fake://${String(config.shelf)}/${key}`,
    exportKeyPrefix: () => '',
    resolves: { schemes: ['fake', 'fake-store'], bucketField: 'shelf' },
    location: { family: 'fake', place: (f) => String(f.shelf ?? '') },
  };
  const defs = { fake };

  it('derives fields, defaults, secrets and schemes from it', () => {
    expect(fieldsOf(fake, 'import').map(([n]) => n)).toEqual([
      'title', 'description', 'synchronizable', 'regex_filter', 'use_blob_urls', 'shelf', 'api_key', 'mode', 'sync_deletions', 'sync_deletions_remove_annotated', 'event_sync',
    ]);
    expect(fieldsOf(fake, 'export').map(([n]) => n)).not.toContain('mode');
    expect(defaultsOf(fake, 'import')).toEqual({ synchronizable: true, use_blob_urls: false, mode: 'a', sync_deletions: 'keep', sync_deletions_remove_annotated: false, event_sync: false });
    expect(secretFieldsOf(fake)).toEqual(['api_key']);
    expect([...schemeTable([...BACKEND_LIST, fake]).entries()].filter(([, t]) => t.includes(fake.type))).toEqual([
      ['fake-store', ['fake']],
      ['fake', ['fake']],
    ]);
  });

  it('builds and caches its provider through a fresh registry instance, after its shape rules', async () => {
    const registry = createStorageRegistry({ settings, backends: defs });
    const config = { type: 'fake', role: 'import', shelf: 's1' } as unknown as StorageConfig;
    const p1 = await registry.getProvider(config);
    expect(await registry.getProvider(config)).toBe(p1);
    expect(built).toHaveLength(1);
    await expect(registry.getProvider({ ...config, shelf: '' })).rejects.toMatchObject({ fields: { shelf: ['This field is required.'] } });
    expect(parseConfigErrors({ type: 's3', role: 'import', bucket: 'b-b' } as StorageConfig, defs)).toHaveProperty('type');
    registry.clear();
    await registry.getProvider(config);
    expect(built).toHaveLength(2);
  });

  it('keeps instances apart: no module-level cache is shared', async () => {
    const a = createStorageRegistry({ settings, backends: defs });
    const b = createStorageRegistry({ settings, backends: defs });
    const config = { type: 'fake', role: 'import', shelf: 's2' } as unknown as StorageConfig;
    expect(await a.getProvider(config)).not.toBe(await b.getProvider(config));
  });
});

describe('capabilities, not type names, drive the type-specific behaviour', () => {
  const plain: BackendDefinition = { ...BACKENDS.redis, type: 'plain' as StorageType, capabilities: undefined };
  const special: BackendDefinition = {
    ...plain,
    type: 'special' as StorageType,
    capabilities: { enabledBy: 'inlinePresign', previewKeyWithPath: true, exportJsonIndent: 4, servesHostFiles: true },
  };
  const off = { localFilesStorageEnabled: false, inlinePresign: false } as AppContext['env'];
  const on = { localFilesStorageEnabled: true, inlinePresign: true } as AppContext['env'];

  it('registers them on localfiles only, so the registered types behave as before', () => {
    expect(BACKENDS.localfiles.capabilities).toMatchObject({
      enabledBy: 'localFilesStorageEnabled',
      previewKeyWithPath: true,
      exportJsonIndent: 2,
      servesHostFiles: true,
    });
    for (const def of BACKEND_LIST.filter((d) => d.type !== 'localfiles')) {
      for (const c of ['enabledBy', 'previewKeyWithPath', 'exportJsonIndent', 'servesHostFiles']) expect(def.capabilities ?? {}, `${def.type}.${c}`).not.toHaveProperty(c);
    }
  });

  it('enabledBy hides a type while its switch is off: types endpoint, routes, lists', () => {
    expect(typeEnabled(special, off)).toBe(false);
    expect(typeEnabled(special, on)).toBe(true);
    expect(typeEnabled(plain, off)).toBe(true);
    expect(typeEnabled(undefined, off)).toBe(true);
    const app = (env: AppContext['env']) => ({ env }) as AppContext;
    expect(storageTypes(app(off)).map((t) => t.name)).not.toContain('localfiles');
    expect(storageTypes(app(on)).map((t) => t.name)).toEqual(TYPE_TITLES.map((t) => t.name));
    expect(() => parseStorageType(app(off), 'localfiles')).toThrow('Not found.');
    expect(parseStorageType(app(on), 'localfiles')).toBe('localfiles');
  });

  it('previewKeyWithPath joins the preview key to the path, without doubling its trailing slashes', () => {
    const config = (path?: string) => ({ type: 'special', role: 'import', path }) as unknown as StorageConfig;
    expect(previewKey(special, config('/data/in//'), 'a/b.json')).toBe('/data/in/a/b.json');
    expect(previewKey(special, config(''), 'a/b.json')).toBe('a/b.json');
    expect(previewKey(plain, config('/data/in'), 'a/b.json')).toBe('a/b.json');
  });

  it('exportJsonIndent pretty-prints exported documents; without it they are compact', () => {
    const doc = { a: [1] };
    expect(serializeExportDocument(doc, special.type, { special, plain })).toBe('{\n    "a": [\n        1\n    ]\n}');
    expect(serializeExportDocument(doc, plain.type, { special, plain })).toBe('{"a":[1]}');
  });

  it('servesHostFiles selects the types whose import storage paths resolve collects', async () => {
    expect(hostFileTypes([plain, special, BACKENDS.localfiles])).toEqual(['special', 'localfiles']);
    const prefixes: string[] = [];
    const send = async (cmd: { input: { ExpressionAttributeValues: Record<string, string> } }) => {
      const v = cmd.input.ExpressionAttributeValues;
      if (!v[':prefix']) return { Items: [{ id: 7 }] };
      prefixes.push(v[':prefix']);
      return { Items: [{ type: v[':prefix'], fields: { path: `/host/${v[':prefix']}` } }] };
    };
    const app = { db: { table: 't', doc: { send } } } as unknown as Pick<AppContext, 'db'>;
    expect(await localFilesStoragePaths(app, 'org', [plain, special])).toEqual(['/host/import#special#']);
    expect(prefixes).toEqual(['import#special#']);
  });
});
