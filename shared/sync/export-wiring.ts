/**
 * Side-effect module imported by the sync handlers: installs the export implementation of the
 * sync state machine (`role: "export"`) from shared/export.
 */
import { installExportSyncHooks } from '../export/sync-hooks';

installExportSyncHooks();
