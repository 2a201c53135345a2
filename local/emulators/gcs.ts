/** GCS emulator launcher: the in-process JSON-API fake in test/emulators/gcs-server.ts. */
import { startGcsServer, type GcsServiceAccount } from '../../test/emulators/gcs-server';

export type { GcsServiceAccount };

export interface GcsEndpoint {
  apiEndpoint: string;
  projectId: string;
}

export interface RunningGcs extends GcsEndpoint {
  credentials: GcsServiceAccount;
  stop(): Promise<void>;
}

/** Starts the GCS fake on 127.0.0.1 with a fresh service-account key it trusts. */
export async function startGcs(opts: { port?: number; projectId?: string } = {}): Promise<RunningGcs> {
  return startGcsServer(opts);
}
