/** The push endpoints' dependencies from an app: its cached Google keys and the event-sync core. */
import type { AppContext } from '../../context';
import { applyObjectEvents } from '../../sync/object-events';
import type { PushDeps } from './receive';

/** PushDeps of `app`. */
export function pushDeps(app: AppContext): PushDeps {
  return {
    googleKeys: app.googlePushKeys,
    apply: (storage, events) => applyObjectEvents(app.syncDeps(), storage.id, events),
  };
}
