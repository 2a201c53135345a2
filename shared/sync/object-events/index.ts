/** Event sync: object notifications → tasks through the chunk step's per-key path. */
export { applyObjectEvents, drainPendingEvents, followsEvents, jobRunning } from './apply-object-events';
export { compareSequencers, newestPerKey } from './order';
export { emptyOutcome, addOutcome, type ObjectEvent, type ObjectEventsOutcome } from './types';
