/**
 * No import cycles in shared/: every `import`/`export … from`/`import()` of every .ts file (type
 * imports included: a type-only cycle still ties the modules together) resolved to its file, then
 * the strongly connected components of that graph. A component of more than one file (or a file
 * importing itself) is a cycle; the failure names one concrete path through each.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const SHARED = process.env.IMPORT_CYCLES_DIR ? resolve(process.env.IMPORT_CYCLES_DIR) : join(ROOT, 'shared');

/** Cycles accepted, as sorted file lists relative to shared/ (none). */
const KNOWN: string[][] = [];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const SPECIFIER = /(?:\bimport\s+(?:type\s+)?[^'"`;]*?\bfrom\s*|\bexport\s+(?:type\s+)?[^'"`;]*?\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;

/** Relative specifiers of a source text (comments stripped first so examples in docs do not count). */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  return [...code.matchAll(SPECIFIER)].map((m) => m[1]).filter((s) => s.startsWith('.'));
}

function resolveSpecifier(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  return [base, `${base}.ts`, join(base, 'index.ts')].find((p) => p.endsWith('.ts') && safeIsFile(p));
}

function safeIsFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

type Graph = Map<string, string[]>;

function importGraph(dir: string): Graph {
  const files = tsFiles(dir);
  const inside = new Set(files);
  return new Map(
    files.map((f) => [f, [...new Set(importSpecifiers(readFileSync(f, 'utf8')).map((s) => resolveSpecifier(f, s)).filter((t): t is string => !!t && inside.has(t)))]]),
  );
}

/** Strongly connected components (Tarjan), each a list of files. */
function components(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** One cycle through `start` inside `members` (breadth-first, so the shortest). */
function cycleThrough(graph: Graph, start: string, members: Set<string>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0])!);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

/** Every cycle of `dir` as `a.ts → b.ts → a.ts` (one per component), known ones left out. */
export function importCycles(dir: string, known: string[][] = KNOWN): string[] {
  const graph = importGraph(dir);
  const rel = (f: string) => relative(dir, f).split('\\').join('/');
  const knownKeys = new Set(known.map((k) => [...k].sort().join('|')));
  return components(graph)
    .filter((scc) => scc.length > 1 || (graph.get(scc[0]) ?? []).includes(scc[0]))
    .filter((scc) => !knownKeys.has(scc.map(rel).sort().join('|')))
    .map((scc) => {
      const start = [...scc].sort()[0];
      const files = scc.length > 2 ? ` (${scc.length} files: ${scc.map(rel).sort().join(', ')})` : '';
      return cycleThrough(graph, start, new Set(scc)).map(rel).join(' → ') + files;
    });
}

describe('import cycles', () => {
  it('reads import, export-from, dynamic and type imports', () => {
    const src = [
      "import type { A } from './a';",
      "import { b } from '../b';",
      "export { c } from './c';",
      "export type { D } from './d';",
      "const e = await import('./e');",
      "import './f';",
      "import { x } from 'node:fs';",
      "// import { g } from './g';",
      "/** import { h } from './h'; */",
    ].join('\n');
    expect(importSpecifiers(src)).toEqual(['./a', '../b', './c', './d', './e', './f']);
  });

  it('shared/ has none (besides the known exception)', () => {
    const cycles = importCycles(SHARED);
    expect(cycles, `import cycles in shared/:\n${cycles.join('\n')}`).toEqual([]);
  });
});
