/** The OpenAPI document and the routers describe the same operations (no drift either way). */
import { describe, expect, it } from 'vitest';
import { router as meta } from '../../functions/api/meta';
import { router as projects } from '../../functions/api/projects';
import { router as resolve } from '../../functions/api/resolve';
import { router as storages } from '../../functions/api/storages';
import { router as webhooks } from '../../functions/api/webhooks';
import { openApiDocument, operations } from '../../shared/api/openapi';
import { STORAGE_TYPES } from '../../shared/storage/types';

process.env.LABELSYNC_TABLE ??= 'unit';

function routerOperations(): Set<string> {
  const out = new Set<string>();
  for (const r of [meta, projects, storages, resolve, webhooks]) {
    for (const { method, pattern } of r.list()) {
      const expanded = pattern.includes('{type}') ? STORAGE_TYPES.map((t) => pattern.replace('{type}', t)) : [pattern];
      for (const p of expanded) out.add(`${method.toLowerCase()} ${p}`);
    }
  }
  return out;
}

describe('openapi', () => {
  it('documents exactly the routed operations', () => {
    const documented = new Set(Object.entries(operations()).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m} ${p}`)));
    const routed = routerOperations();
    expect([...routed].filter((o) => !documented.has(o))).toEqual([]);
    expect([...documented].filter((o) => !routed.has(o))).toEqual([]);
  });

  it('references only schemas that exist', () => {
    const doc = openApiDocument() as { components: { schemas: Record<string, unknown> } };
    const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(50);
    for (const r of refs) expect(doc.components.schemas, r).toHaveProperty(r);
  });
});
