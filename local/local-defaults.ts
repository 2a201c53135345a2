/** Defaults `npm start` applies to the environment before the runtime reads it (documented in README). */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/**
 * Local-mode defaults, each only when the variable is unset:
 * - LABELSYNC_ALLOWED_ENDPOINTS = loopback. Locally, storages point at emulators and services on
 *   this machine, which the SSRF guard refuses by default; private networks and cloud metadata
 *   addresses stay refused. Set the variable (to an empty value to allow nothing) to choose yourself.
 * - LABELSYNC_AMBIENT_GRANTS = `{"local":["*"]}`: the single local organization may use this
 *   machine's own credentials (AWS_* variables, ~/.aws, ADC) for storages without keys; any other
 *   organization may not.
 * - Label Studio's community convenience: with neither LOCAL_FILES_SERVING_ENABLED nor
 *   LOCAL_FILES_DOCUMENT_ROOT set (with or without the LABEL_STUDIO_ prefix), a `mydata` or
 *   `label-studio-data` directory in the working directory becomes the document root and serving
 *   is switched on. Without it the root still defaults to ./label-studio-data (shared/config/env.ts)
 *   with serving off: the host's `/` is never a default root.
 */
export function applyLocalDefaults(envv: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const notes: string[] = [];
  if (envv.LABELSYNC_ALLOWED_ENDPOINTS === undefined) {
    envv.LABELSYNC_ALLOWED_ENDPOINTS = '127.0.0.1,localhost,::1';
    notes.push('storage endpoints on loopback allowed (LABELSYNC_ALLOWED_ENDPOINTS=127.0.0.1,localhost,::1)');
  }
  if (envv.LABELSYNC_AMBIENT_GRANTS === undefined) {
    envv.LABELSYNC_AMBIENT_GRANTS = '{"local":["*"]}';
    notes.push('organization "local" may use this machine\'s credentials for storages without keys (LABELSYNC_AMBIENT_GRANTS={"local":["*"]})');
  }
  const filesVars = ['LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED', 'LOCAL_FILES_SERVING_ENABLED', 'LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT', 'LOCAL_FILES_DOCUMENT_ROOT'];
  if (filesVars.every((v) => envv[v] === undefined)) {
    const root = ['mydata', 'label-studio-data'].map((d) => resolve(cwd, d)).find(isDir);
    if (root) {
      envv.LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT = root;
      envv.LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED = 'true';
      notes.push(`local files served from ${root}`);
    }
  }
  return notes;
}
