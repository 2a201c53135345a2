/**
 * Setup file of the `emulators` project, whose files share one module graph per worker
 * (isolate: false): each file starts from the environment the worker started with and with no
 * installed app and an empty record of API response bodies, whatever the file before it left
 * (the sync and export helpers write process.env and install apps; an isolated file never saw its
 * predecessor's).
 */
import { afterAll, beforeAll } from 'vitest';
import { installApp } from '../../shared/process-app';
import { responseBodies } from '../integration/api-harness';

const initial = { ...process.env };

function restore(): void {
  for (const k of Object.keys(process.env)) if (!(k in initial)) delete process.env[k];
  Object.assign(process.env, initial);
  installApp(undefined);
  // The harness's record of every answered body: a file's secret checks read only its own.
  responseBodies.length = 0;
}

beforeAll(restore);
afterAll(restore);
