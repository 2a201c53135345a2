/**
 * Builds the console (console/src, Preact + TSX) into in-memory assets with esbuild: one
 * JavaScript and one CSS file with content hashes in their names, and the index page that loads
 * them. Used at run time by `npm start` and tests (console/assets.ts) and at bundle time to embed
 * the assets in the meta function (lib/constructs/bundle.ts).
 */
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConsoleAsset, ConsoleAssets } from '../shared/http/console-static';

const SRC = join(dirname(fileURLToPath(import.meta.url)), 'src');

/** URL prefix of the hashed assets (the manifest routes `/console` to the meta function). */
export const ASSET_PREFIX = '/console/assets/';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

function asset(body: string, contentType: string): ConsoleAsset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

function indexPage(script: string, style: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>labelsync console</title>',
    // No favicon request: /favicon.ico is not a console path and would answer 401.
    '<link rel="icon" href="data:,">',
    `<link rel="stylesheet" href="${ASSET_PREFIX}${style}">`,
    `<script type="module" src="${ASSET_PREFIX}${script}"></script>`,
    '</head>',
    '<body><div id="app"></div><noscript>The labelsync console needs JavaScript.</noscript></body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * Builds the console. Throws esbuild's error (with file and line) when the sources do not compile.
 */
export async function buildConsole(): Promise<ConsoleAssets> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: { app: join(SRC, 'main.tsx') },
    outdir: '/console-out',
    write: false,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'none',
    entryNames: '[name]-[hash]',
    logLevel: 'silent',
  });
  const files: Record<string, ConsoleAsset> = {};
  let script = '';
  let style = '';
  for (const f of result.outputFiles) {
    const name = basename(f.path);
    const ext = name.slice(name.lastIndexOf('.'));
    const type = CONTENT_TYPES[ext];
    if (!type) continue;
    files[name] = asset(f.text, type);
    if (ext === '.js') script = name;
    if (ext === '.css') style = name;
  }
  if (!script || !style) throw new Error('console build produced no script or no stylesheet');
  return { index: asset(indexPage(script, style), CONTENT_TYPES['.html']), files };
}
