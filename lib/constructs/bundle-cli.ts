/**
 * `tsx lib/constructs/bundle-cli.ts <entry> <outdir> <sourceMaps: true|false>`: builds one
 * function's bundle with `bundleOptions`. NodeFunction runs it in a child process because CDK's
 * local bundling hook is synchronous and esbuild's synchronous API cannot run plugins.
 */
import { build } from 'esbuild';
import { BUNDLE_ENTRY, bundleOptions } from './bundle';

const [entry, outdir, sourceMaps] = process.argv.slice(2);
if (!entry || !outdir || !/^(true|false)$/.test(sourceMaps ?? '')) {
  console.error('usage: bundle-cli.ts <entry> <outdir> <true|false>');
  process.exit(2);
}
await build({ ...bundleOptions({ [BUNDLE_ENTRY]: entry }, outdir, { sourceMaps: sourceMaps === 'true' }), metafile: false });
