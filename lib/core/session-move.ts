import { decodeValue, CodecSettings } from './attribute-codec';
import { jitteredDelay, sleep } from './backoff';
import { rejectConflict } from './conflicts';
import { SessionConflictError } from './errors';
import type { SessionEvents } from './events';
import { hasExpired } from './expiry';
import type { OnConflict } from './options';
import { FORBIDDEN_KEYS } from './serializer';
import { RESERVED_NAMES } from './session';
import { sameStoredValue, SessionStore, StoredValue } from '../store/session-store';

/** The item regenerate() moves away from, as this request last saw it. */
export interface RetiredItem {
  readonly key: string;
  version: number;
  readonly values: Map<string, StoredValue>;
  readonly fingerprints: Map<string, string>;
}

export interface MoveSettings extends CodecSettings {
  readonly store: SessionStore;
  readonly onConflict: OnConflict;
  readonly maxCommitRetries: number;
  readonly events: SessionEvents;
  readonly now: () => number;
}

/** This request's view of the session being moved. */
export interface MovingSession {
  /** The value this request holds now. */
  mine(name: string): unknown;
  /** Whether this request changed the attribute since `retired` was read. */
  changedByMe(name: string, retiredFingerprint: string | undefined): boolean;
  /** Applies what another request stored meanwhile to the session and its new item (undefined removes). */
  carry(values: ReadonlyMap<string, unknown>): Promise<void>;
}

/**
 * Deletes the old item of a regenerated session, but only at the version this
 * request saw. When another request wrote since (an AJAX call stored the cart
 * while the login ran), its changes are carried to the new item and the delete
 * is retried, so an acknowledged write is never dropped; under 'reject' the
 * request fails with 409 instead. The new item must already exist, so a failure
 * here leaves the old session intact.
 */
export async function retireOldItem(retired: RetiredItem, settings: MoveSettings, session: MovingSession): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await settings.store.destroy(retired.key, retired.version);
    if (outcome.status === 'destroyed') return;
    if (outcome.status === 'gone' || hasExpired(outcome.current, settings.now())) {
      throw new SessionConflictError('The session was destroyed or expired by another request while this one regenerated it; nothing was stored.');
    }
    const item = outcome.current;
    const names = new Set([...retired.values.keys(), ...Object.keys(item.data)]);
    const changed = [...names].filter(
      (name) => !FORBIDDEN_KEYS.has(name) && !RESERVED_NAMES.has(name) && !sameStoredValue(retired.values.get(name), item.data[name]),
    );
    if (changed.length > 0) {
      settings.events.emit('conflict', { key: retired.key, attributes: changed });
      if (settings.onConflict === 'reject') throw rejectConflict(changed);
      if (attempt >= settings.maxCommitRetries) {
        throw new SessionConflictError(
          `Gave up regenerating the session after ${attempt + 1} concurrent writes (maxCommitRetries ${settings.maxCommitRetries}); nothing was stored.`,
        );
      }
      const carried = new Map<string, unknown>();
      for (const name of changed) {
        const stored = item.data[name];
        const theirs = stored === undefined ? undefined : await decodeValue(stored, name, settings);
        if (!session.changedByMe(name, retired.fingerprints.get(name))) carried.set(name, theirs?.value);
        else if (typeof settings.onConflict === 'function') carried.set(name, settings.onConflict(name, session.mine(name), theirs?.value));
        // Under last-write-wins this request's own value stands.
        if (stored === undefined) {
          retired.values.delete(name);
          retired.fingerprints.delete(name);
        } else {
          retired.values.set(name, stored);
          retired.fingerprints.set(name, theirs!.fingerprint);
        }
      }
      if (carried.size > 0) await session.carry(carried);
      await sleep(jitteredDelay(attempt, 5, 200));
    }
    retired.version = item.version;
  }
}
