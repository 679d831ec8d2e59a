import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { jitteredDelay, sleep } from './backoff';
import { SessionLockTimeoutError } from './errors';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { SessionStore, StoredSession } from './session-store';

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

/** A lease this request holds, until a commit releases it. */
export interface HeldLease {
  readonly key: string;
  readonly owner: string;
}

/** Where and how a request reads its session: the lease settings and what to report while waiting. */
export interface ReadSettings extends LeaseSettings {
  readonly store: SessionStore;
  /** The requests (`METHOD /path`) that lock; undefined: none. */
  readonly lockPattern: RegExp | undefined;
  readonly metrics: Metrics | undefined;
  readonly logger: Logger;
}

/**
 * One GetItem, or, when this request locks, one UpdateItem that takes the
 * lease and returns the item. An ignored request never locks (it never writes, so it could never release).
 */
export async function readSession(
  settings: ReadSettings, key: string, request: { method: string; path: string; ignored: boolean },
): Promise<{ stored: StoredSession | undefined; lease?: HeldLease }> {
  const pattern = settings.lockPattern;
  if (request.ignored || pattern === undefined || !pattern.test(`${request.method} ${request.path}`)) {
    return { stored: await settings.store.get(key, request.ignored) };
  }
  const owner = randomBytes(12).toString('base64url');
  try {
    const stored = await acquireLease(settings.store, key, owner, settings, () => {
      settings.metrics?.increment('lock_wait');
      settings.logger.debug(`waiting for the lock of session ${key}`);
    });
    return stored ? { stored, lease: { key, owner } } : { stored };
  } catch (error) {
    // The acquire may have landed with its answer lost: give back what may be ours (a release by owner is harmless otherwise).
    await releaseQuietly(settings.store, { key, owner }, settings.logger);
    throw error;
  }
}

/** Gives a lease back; a failure only costs others a wait of lockExpiration, so it is logged, not thrown. */
export async function releaseQuietly(store: SessionStore, lease: HeldLease, logger: Logger): Promise<void> {
  try {
    await store.release(lease.key, lease.owner);
  } catch (error) {
    logger.warn(`could not release a session lock; it expires after lockExpiration: ${(error as Error).message}`);
  }
}
