import { CodecSettings, decodeValue, toStored } from './attribute-codec';
import { jitteredDelay, sleep } from './backoff';
import { rejectConflict } from './conflicts';
import { SessionConflictError, SessionStoreUnavailableError } from './errors';
import type { SessionEvents } from './events';
import { sizesOf } from './delta';
import { hasExpired, idleDeadline } from './expiry';
import type { OnConflict } from './options';
import { FORBIDDEN_KEYS } from './serializer';
import { RESERVED_NAMES, Session } from './session';
import { Encoded, fingerprint } from './stored-value';
import { NewSession, sameStoredValue, SessionStore, StoredValue } from './session-store';

/** The item regenerate() moves away from, as this request last saw it. */
export interface RetiredItem {
  readonly key: string;
  version: number;
  /** Its deadlines as last seen: a session that expired while the request ran is not moved to life again. */
  expiresAt: number;
  absoluteExpiresAt: number | undefined;
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
    if (outcome.status === 'destroyed') {
      // Deleted at the version seen, so its deadline is the one seen: past it, the session had ended.
      if (hasExpired(retired, settings.now())) {
        throw new SessionConflictError('The session expired while this request ran; it was not regenerated and nothing was stored.');
      }
      return;
    }
    if (outcome.status === 'gone' && outcome.ambiguous === true) {
      // Our delete may be what removed it (its answer was lost), or a logout: the new item goes, the request fails as a lost answer does.
      throw new SessionStoreUnavailableError('The old session was removed, but this request could not tell whether by itself or by a logout; the login was not stored. Retry.', { retryAfterSeconds: 1 });
    }
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
    } else {
      // Nothing differs, yet the store would not delete (a write of it still landing): bounded, and with a pause.
      if (attempt >= settings.maxCommitRetries) {
        throw new SessionConflictError(`Gave up regenerating the session after ${attempt + 1} tries while another write of it was landing; nothing was stored.`);
      }
      if (attempt > 0) await sleep(jitteredDelay(attempt, 5, 200));
    }
    retired.version = item.version;
    retired.expiresAt = item.expiresAt;
    retired.absoluteExpiresAt = item.absoluteExpiresAt;
  }
}

/** What a NewItem needs to size and write itself. */
export interface NewItemDeps {
  readonly store: SessionStore;
  readonly codec: CodecSettings;
  /** Bytes of the item besides its data map (key, prefix, principal, metadata). */
  readonly metadataBytes: number;
}

/**
 * The item a new or regenerated session is written to. It is created only
 * when the session has attributes, and a regenerate() may add to it what
 * another request stored meanwhile.
 */
export class NewItem {
  created = false;
  bytes = 0;

  constructor(
    readonly key: string,
    readonly times: NewSessionTimes,
    readonly now: number,
    readonly encoded: Map<string, Encoded>,
    readonly data: Map<string, StoredValue>,
    private readonly deps: NewItemDeps,
  ) {}

  /** Creates the item when there is something to store (an empty session is never written). */
  async create(): Promise<void> {
    if (this.created || !hasContent(this.encoded.size, this.times)) return;
    await this.deps.store.ready(); // a store sizes a session by its layout, known once it is ready
    this.bytes = this.deps.store.fit(sizesOf(this.data), this.deps.metadataBytes);
    await this.deps.store.create(this.key, { ...this.times, lastAccessedAt: this.now, data: Object.fromEntries(this.data) });
    this.created = true;
  }

  /** Applies carried values to the session and to the item (undefined removes). */
  async carry(values: ReadonlyMap<string, unknown>, session: Session): Promise<void> {
    const set = new Map<string, Encoded>();
    const remove: string[] = [];
    for (const [name, value] of values) {
      if (value === undefined) {
        delete session[name];
        if (this.encoded.delete(name)) remove.push(name);
        this.data.delete(name);
      } else {
        session[name] = value;
        set.set(name, this.deps.codec.serializer.encode(value, name));
      }
    }
    const stored = await toStored(set, this.deps.codec);
    const before = sizesOf(this.data);
    for (const [name, value] of set) this.encoded.set(name, value);
    for (const [name, value] of stored) this.data.set(name, value);
    if (!this.created) return this.create();
    this.bytes = this.deps.store.fit(sizesOf(this.data), this.deps.metadataBytes, before);
    const outcome = await this.deps.store.update(this.key, { set: stored, remove, lastAccessedAt: this.now, expiresAt: this.times.expiresAt, now: this.now });
    if (outcome.status !== 'stored') throw new SessionConflictError('The new session was removed while this request regenerated it; nothing was stored.');
  }

  /** Removes a half-made item after a failed move, so nothing lingers under an id nobody will get. */
  async discard(): Promise<void> {
    if (this.created) await this.deps.store.destroy(this.key).catch(() => undefined);
  }
}

export type NewSessionTimes = Omit<NewSession, 'data' | 'lastAccessedAt'>;

/** A new item's times: its own, or those of the session regenerate() carries (its creation and absolute deadline stay). */
export function newSessionTimes(
  now: number,
  absoluteTimeout: number | undefined,
  maxInactiveInterval: number,
  carried: Pick<NewSessionTimes, 'createdAt' | 'absoluteExpiresAt'> | undefined,
  fields: Omit<NewSessionTimes, 'createdAt' | 'expiresAt' | 'absoluteExpiresAt'>,
): NewSessionTimes {
  const absoluteExpiresAt = carried?.absoluteExpiresAt ?? (absoluteTimeout === undefined ? undefined : Math.floor(now / 1000) + absoluteTimeout);
  return { createdAt: carried?.createdAt ?? now, expiresAt: idleDeadline(now, maxInactiveInterval, absoluteExpiresAt), absoluteExpiresAt, ...fields };
}

/** Whether a new session is worth an item: attributes, or a principal or own idle timeout (those are content too). */
export function hasContent(attributes: number, times: Pick<NewSessionTimes, 'principal' | 'maxInactiveInterval'>): boolean {
  return attributes > 0 || times.principal !== undefined || times.maxInactiveInterval !== undefined;
}

/**
 * regenerate() at commit: with the new item written, deletes the old one at
 * the version this request loaded, carrying whatever another request stored
 * meanwhile. On failure the old session stays as it was and the new item goes.
 *
 * The move is recorded (store.recordMove) before the old item can go, so a
 * logout that finds the old item gone finds where the session went (endSession);
 * a logout that deleted the old item first makes the delete below find it gone,
 * and the move fails with 409. The record outlives the old session's deadline.
 */
export async function moveSession(retired: RetiredItem, item: NewItem, settings: MoveSettings, session: Session): Promise<void> {
  await item.create();
  try {
    await settings.store.recordMove(retired.key, item.key, Math.max(retired.expiresAt, item.times.expiresAt));
    await retireOldItem(retired, settings, {
      mine: (name) => session[name],
      changedByMe: (name, theirs) => {
        const mine = item.encoded.get(name);
        return (mine === undefined ? undefined : fingerprint(mine)) !== theirs;
      },
      carry: (values) => item.carry(values, session),
    });
  } catch (error) {
    await item.discard();
    throw error;
  }
}

/** How many moves a logout follows (a chain of regenerate()s or logins that ran while it did) before it answers 409. */
export const MAX_MOVES_FOLLOWED = 4;

/**
 * Ends the session under `key` for destroy() (a logout): deletes its item, and when there was none, follows the
 * moves recorded for it (a concurrent regenerate() or login() moved the session to a new id and committed first)
 * and ends the session where it went. A delete that finds its item costs nothing more; one that finds nothing costs
 * one strong read per key it found gone. Past MAX_MOVES_FOLLOWED moves the logout fails with 409 (the adapters then
 * leave the cookie alone), having ended what it reached. Only a logout follows moves: the principal-based deletes
 * (destroyOther, destroyOthers, maxSessionsPerPrincipal, destroyByPrincipal) have rules of their own.
 */
export async function endSession(store: SessionStore, key: string, events: SessionEvents): Promise<void> {
  if ((await store.destroy(key)).status !== 'gone') return;
  const seen = new Set([key]);
  let gone = [key];
  let followed = 0;
  while (gone.length > 0) {
    const moves = (await Promise.all(gone.map((k) => store.movesOf(k)))).flat().filter((to) => !seen.has(to));
    gone = [];
    for (const to of new Set(moves)) {
      seen.add(to);
      if (++followed > MAX_MOVES_FOLLOWED) {
        throw new SessionConflictError(
          `The session was moved to a new id more than ${MAX_MOVES_FOLLOWED} times while this logout ran (regenerate() or login() in other requests); it may still be valid: log out again.`,
        );
      }
      const outcome = await store.destroy(to);
      if (outcome.status === 'gone') gone.push(to);
      else events.emit('destroyed', { key: to });
    }
  }
}
