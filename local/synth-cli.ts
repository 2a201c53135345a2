/**
 * Child-process entry of `loadStateMachine`: synthesizes the stack and writes the resolved state
 * machine as JSON to the file named by the first argument (region: second argument).
 * Usage: node --import tsx local/synth-cli.ts <out.json> <region>
 */
import { writeFile } from 'node:fs/promises';
import { synthesizeStateMachine } from './state-machine-definition';

const [out, region = 'us-east-1'] = process.argv.slice(2);
if (!out) {
  console.error('usage: synth-cli.ts <out.json> [region]');
  process.exit(2);
}
await writeFile(out, JSON.stringify(await synthesizeStateMachine(region)));
