/** The push endpoints' dependencies from an app: its cached Google keys and the event-sync core. */
import type { AppContext } from '../../context';
import type { PushDeps } from './receive';

/** PushDeps of `app`. */
export function pushDeps(app: AppContext): PushDeps {
  return {
    googleKeys: app.googlePushKeys,
    apply: async () => {
      throw new Error('event sync core is not available in this build');
    },
  };
}
