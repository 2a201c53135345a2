/**
 * How a function's code is bundled, defined once: `cdk synth` (NodeFunction, through
 * `bundle-cli.ts`), `npm run bundle-sizes` and test/infra/bundle-budget.test.ts all build with
 * `bundleOptions`.
 *
 * ESM with code splitting: every dynamic `import()` (a storage type's provider SDK, the STS and
 * Step Functions clients, the storage registry) becomes a chunk file next to `index.mjs` that Node
 * reads only when a request first needs it. Lambda's init phase therefore parses only the entry
 * and its static imports ("cold" bytes below), not every provider SDK.
 */
import * as path from 'node:path';
import type { BuildOptions, Metafile, Plugin } from 'esbuild';
import type { FunctionName } from '../../functions/manifest';

export interface BundleSettings {
  /** Emit `.map` files (context `sourceMaps=true`); the function then runs with --enable-source-maps. */
  sourceMaps: boolean;
}

/** Name of every bundle's entry file (`index.mjs`); the Lambda handler is `index.handler`. */
export const BUNDLE_ENTRY = 'index';
export const BUNDLE_ENTRY_FILE = `${BUNDLE_ENTRY}.mjs`;

// Bundled CJS dependencies still call require(); ESM has none, so each output file gets one.
const BANNER = "import { createRequire as __labelsyncCreateRequire } from 'node:module'; const require = __labelsyncCreateRequire(import.meta.url);";

/**
 * zod's `z` namespace re-exports `locales` (~50 translations of its messages, ~250 KB minified) and
 * esbuild cannot drop members of a namespace object. Error details are English (Label Studio's),
 * so the bundles keep `en` only; zod registers `en` itself as the default.
 */
export const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: path.resolve(args.resolveDir, '../locales/index.js'), namespace: 'zod-locales' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

/**
 * esbuild options of one or more bundles written to `outdir` (one `<key>.mjs` per entry; shared
 * and lazily imported code under `chunks/`). Bundles everything, @aws-sdk v3 included: a pinned,
 * tree-shaken SDK instead of the runtime's.
 */
export function bundleOptions(entryPoints: Record<string, string>, outdir: string, settings: BundleSettings): BuildOptions {
  return {
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node22',
    // ESM: @aws-sdk v3 and most deps ship ES modules, which esbuild tree-shakes better than their CJS builds.
    format: 'esm',
    mainFields: ['module', 'main'],
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    legalComments: 'none',
    // File:line mapping is what stack traces need; embedding the sources would make maps ~4x larger.
    sourcemap: settings.sourceMaps,
    sourcesContent: false,
    banner: { js: BANNER },
    plugins: [zodEnglishOnly],
    metafile: true,
    logLevel: 'warning',
  };
}

/** Bytes of one bundle: what the init phase loads, everything shipped, and source maps. */
export interface BundleSize {
  /** The entry file plus every chunk it imports statically (transitively): parsed at cold start. */
  coldBytes: number;
  /** Every JavaScript file of the bundle (lazy chunks included). */
  totalBytes: number;
  mapBytes: number;
}

/**
 * Output files reachable from `entryFile` (a key of `metafile.outputs`, itself included) through
 * static imports, or with `lazyToo` also through dynamic `import()`.
 */
export function reachableOutputs(metafile: Metafile, entryFile: string, lazyToo = false): Set<string> {
  const outputs = metafile.outputs;
  const seen = new Set<string>();
  const todo = [entryFile];
  for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
    if (seen.has(f) || !outputs[f]) continue;
    seen.add(f);
    for (const i of outputs[f].imports) if (i.kind === 'import-statement' || (lazyToo && i.kind === 'dynamic-import')) todo.push(i.path);
  }
  return seen;
}

/**
 * Sizes of the bundle whose entry is `entryFile`. In a build of several entries, "total" counts
 * the chunks reachable from this entry, static or dynamic.
 */
export function bundleSize(metafile: Metafile, entryFile: string): BundleSize {
  const sum = (files: Iterable<string>): number => [...files].reduce((s, f) => s + metafile.outputs[f].bytes, 0);
  const all = reachableOutputs(metafile, entryFile, true);
  const maps = Object.keys(metafile.outputs).filter((f) => f.endsWith('.map') && all.has(f.slice(0, -'.map'.length)));
  return { coldBytes: sum(reachableOutputs(metafile, entryFile)), totalBytes: sum(all), mapBytes: sum(maps) };
}

const KIB = 1024;

/**
 * Budget of each bundle's cold bytes. meta, projects and the sweeper never build a provider at
 * init and must stay under 1 MB; the others are what test/infra/bundle-budget.test.ts's build of
 * all entries measured (874–910 KiB, of which Powertools Tracer with the X-Ray SDK and Metrics are
 * about 136 KB; per-function builds, in docs/deploy.md, come out ~30 KiB smaller) plus ~10%. A
 * bundle over budget fails that test: find the static import that pulls an SDK into the init
 * phase (`npm run bundle-sizes`) and make it lazy.
 */
export const COLD_BUDGET_BYTES: Record<FunctionName, number> = {
  meta: 1_000_000,
  projects: 1_000_000,
  sweeper: 1_000_000,
  storages: 975 * KIB,
  resolve: 985 * KIB,
  syncStart: 980 * KIB,
  syncList: 990 * KIB,
  syncChunk: 1_000 * KIB,
  syncFinalize: 995 * KIB,
  syncExecutionFailed: 980 * KIB,
  exportStream: 975 * KIB,
  exportReplay: 965 * KIB,
  storageEvents: 1_000 * KIB,
};
