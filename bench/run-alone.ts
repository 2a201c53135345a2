/**
 * `tsx bench/<part>.ts` runs one part alone: this starts it when its module is the entry point,
 * prints the target summary and exits 0, or 1 when the part threw.
 */
import { pathToFileURL } from 'node:url';
import { targetSummary } from './targets';

export function runWhenMain(moduleUrl: string, run: () => Promise<unknown>): void {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? '').href) return;
  run().then(
    () => {
      for (const line of targetSummary()) console.log(line);
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
