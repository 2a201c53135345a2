/**
 * The app of this process: the only module-level mutable state of the service. A Lambda builds it
 * from `process.env` on first use (each functions/* entry calls `processApp()` at module scope, so
 * a bad variable fails the cold start, not a request); the local runtime and tests install theirs.
 */
import { createApp, type AppContext } from './app';

let current: AppContext | undefined;

/**
 * The installed app, or one built from `process.env` (and kept) when none is installed.
 * @throws Error `invalid environment: …` naming every bad variable
 */
export function processApp(): AppContext {
  return (current ??= createApp(process.env));
}

/** Installs `app` as the process's app (undefined: the next `processApp()` builds from process.env). Returns it. */
export function installApp<T extends AppContext | undefined>(app: T): T {
  current = app;
  return app;
}
