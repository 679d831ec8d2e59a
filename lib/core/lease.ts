import { performance } from 'node:perf_hooks';
import { jitteredDelay, sleep } from './backoff';
import { SessionLockTimeoutError } from './errors';
import type { SessionStore, StoredSession } from '../store/session-store';

export interface LeaseSettings {
  readonly lockExpiration: number;
  readonly lockTimeout: number;
  /** The session clock (epoch ms), which lease times are written in. */
  readonly now: () => number;
}

/**
 * Takes the session's lease, waiting with backoff while another request holds
 * it, up to `lockTimeout` of real time. Resolves with the item (undefined: no such
 * session, nothing to lock). Never proceeds unlocked: it throws instead.
 */
export async function acquireLease(
  store: SessionStore,
  key: string,
  owner: string,
  settings: LeaseSettings,
  onWait: () => void,
): Promise<StoredSession | undefined> {
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    const now = settings.now();
    const outcome = await store.acquire(key, owner, now + settings.lockExpiration, now);
    if (outcome.status === 'locked') return outcome.session;
    if (outcome.status === 'absent') return undefined;
    const waited = performance.now() - started;
    if (waited >= settings.lockTimeout) {
      throw new SessionLockTimeoutError(
        `Waited ${Math.round(waited)} ms for the session lock (lockTimeout ${settings.lockTimeout} ms); another request holds it. ` +
          'Retry, or lock fewer requests with locking: { uriPattern }.',
      );
    }
    onWait();
    // Poll with backoff, but never sleep past the holder's lease or our own deadline.
    const untilLeaseEnds = Math.max(1, outcome.lockExpires - now + 1);
    await sleep(Math.min(jitteredDelay(attempt, 10, 250), untilLeaseEnds, settings.lockTimeout - waited));
  }
}
