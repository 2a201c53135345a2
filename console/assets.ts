/**
 * The console's assets as the meta function serves them. Here they are built from the sources on
 * first use and kept for the life of the process (`npm start`, tests); the Lambda bundle replaces
 * this module with the assets built at synth time (lib/constructs/bundle.ts, `consoleEmbedded`),
 * so a deployed function never runs esbuild.
 */
import type { ConsoleAssets } from '../shared/http/console-static';

let built: Promise<ConsoleAssets> | undefined;

/** The built console (built once per process; a failed build is retried on the next call). */
export function loadConsoleAssets(): Promise<ConsoleAssets> {
  if (!built) {
    built = import('./build').then((b) => b.buildConsole());
    built.catch(() => (built = undefined));
  }
  return built;
}
