import { jitteredDelay, sleep } from './backoff';
import { SessionConflictError } from './errors';
import { hasExpired } from './expiry';
import { assertItemFits } from './item-size';
import type { Serializer } from './serializer';

/** An attribute value as stored: the serializer's text, or bytes whose first byte says what follows (compressed text, raw or compressed bytes). */
export type StoredValue = string | Uint8Array;

export interface SessionTimes {
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds. */
  readonly lastAccessedAt: number;
  /** Epoch seconds: the idle deadline, and DynamoDB's TTL attribute. */
  readonly expiresAt: number;
  /** Epoch seconds: the absolute deadline, never extended. */
  readonly absoluteExpiresAt?: number | undefined;
  /** Seconds: this session's own idle timeout ("remember me"), when it has one. */
  readonly maxInactiveInterval?: number | undefined;
  /** The user the session belongs to, for find/destroy by principal. */
  readonly principal?: string | undefined;
  /** Epoch milliseconds of the last `login()`. */
  readonly authenticatedAt?: number | undefined;
  /** The client that created the session or last logged in with it (`recordClientInfo`): its User-Agent, first 256 characters. */
  readonly userAgent?: string | undefined;
  /** The same client's address, as the framework resolved it (its trust-proxy setting applies). */
  readonly ip?: string | undefined;
}

export interface StoredSession extends SessionTimes {
  readonly data: Readonly<Record<string, StoredValue>>;
  readonly version: number;
  /** Who holds the lease, under locking. */
  readonly lockOwner?: string | undefined;
  /** Epoch milliseconds the lease ends. */
  readonly lockExpires?: number | undefined;
  /**
   * The store could not rule out a write still landing that this view does not show (the split layout's
   * part writes): regenerate() then reads the session again before retiring it, whatever its version.
   */
  readonly unsettled?: boolean | undefined;
}

export interface NewSession extends SessionTimes {
  readonly data: Readonly<Record<string, StoredValue>>;
}

/** A delta: only what this request changed. An empty `set` and `remove` is a touch. */
export interface SessionUpdate {
  readonly set: ReadonlyMap<string, StoredValue>;
  readonly remove: readonly string[];
  readonly lastAccessedAt: number;
  readonly expiresAt: number;
  /** Epoch milliseconds of the request: an item whose deadline has passed is not written. */
  readonly now: number;
  /** Set when the session's own idle timeout changed. */
  readonly maxInactiveInterval?: number;
  /** Set when the principal changed; null removes it. */
  readonly principal?: string | null;
  /** Set when the login time changed; null removes it (the principal changed without a login). */
  readonly authenticatedAt?: number | null;
  /**
   * Optimistic guards: each attribute must still hold this stored value
   * (`null`: still be absent). Only the attributes this request changed are guarded.
   */
  readonly expected?: ReadonlyMap<string, StoredValue | null>;
  /** Under locking: the write requires this lease and releases it. */
  readonly lockOwner?: string;
  /** Under locking: how long the lease runs when a store keeps it past its first write (it releases it after the last). */
  readonly leaseUntil?: number;
}

export type UpdateOutcome =
  | { readonly status: 'stored' }
  /** The item is missing or expired: nothing was written (a late write never resurrects a session). */
  | { readonly status: 'gone' }
  /** A guard failed (an expected value changed, or the lease is no longer ours); `current` is the item now. */
  | { readonly status: 'conflict'; readonly current: StoredSession };

/** A session found by principal: its storage key (the id's SHA-256), times and client, never the id. */
export interface PrincipalSession {
  readonly key: string;
  readonly createdAt: number;
  readonly lastAccessedAt: number;
  readonly expiresAt: number;
  /** Recorded only with the session option `recordClientInfo`. */
  readonly userAgent?: string | undefined;
  readonly ip?: string | undefined;
}

/** How much of a user's sessions findByPrincipal reads. */
export interface PrincipalSessionQuery {
  /**
   * Read at most this many index entries (in the index's order, which is no particular one; expired entries
   * count too), and answer the live sessions among them: bounded work for a user with very many sessions.
   */
  readonly limit?: number;
}

/** Tries of the default destroyIfOwned() against concurrent writes to the session before it gives up (409). */
const OWNED_DESTROY_TRIES = 5;

/** The outcome of a destroy conditioned on the version seen at load (regenerate). */
export type DestroyOutcome =
  | { readonly status: 'destroyed' }
  /**
   * No such item (destroyed or never stored): nothing to delete. `ambiguous`: a delete of ours whose answer was lost
   * may have been what removed it, or another request did; the store cannot tell.
   */
  | { readonly status: 'gone'; readonly ambiguous?: boolean }
  /** Another request wrote since the load: nothing was deleted; `current` is the item now. */
  | { readonly status: 'changed'; readonly current: StoredSession };

export type LockOutcome =
  | { readonly status: 'locked'; readonly session: StoredSession }
  | { readonly status: 'absent' }
  | { readonly status: 'busy'; readonly lockExpires: number };

/**
 * The storage contract. Keys are already hashed by the core (43 base64url characters, the SHA-256 of the id),
 * so a store never sees a raw session id; DynamoDbStore relies on that shape to tell its sessions from another
 * app's in a shared table. Values are already encoded. A store knows nothing of HTTP.
 */
export abstract class SessionStore {
  /**
   * The item, or undefined when there is none. Expiry is judged by the caller. `readOnly`: the request will
   * write nothing (ignored), so the read must not write either, not even upkeep a store may do on reads.
   */
  abstract get(key: string, readOnly?: boolean): Promise<StoredSession | undefined>;
  /** Creates the item; fails if one exists under the key. */
  abstract create(key: string, session: NewSession): Promise<void>;
  /** Applies the delta to an existing, unexpired item whose guards hold. */
  abstract update(key: string, update: SessionUpdate): Promise<UpdateOutcome>;
  /**
   * Deletes the item. With `expectedVersion`, only while the item still has
   * that version (regenerate() moves a session only if nobody wrote to it since its load).
   */
  abstract destroy(key: string, expectedVersion?: number): Promise<DestroyOutcome>;
  /**
   * Records that the session under `from` moves to `to` (regenerate(), login()), before the item under `from` is
   * deleted, so that a logout which then finds that item gone can follow the move and end the session there
   * ("a logout is final"). The record is never read as a session (a key no session has, no principal) and lives
   * at least until `expiresAt` (epoch seconds). Recording another move of the same `from` adds to it: concurrent
   * moves of one session are all kept, whichever of them won.
   */
  abstract recordMove(from: string, to: string, expiresAt: number): Promise<void>;
  /** The keys recordMove() recorded for `key` (a strong read), whether or not those moves went through; empty when none. */
  abstract movesOf(key: string): Promise<readonly string[]>;
  /**
   * Takes the item's lease for `owner` until `leaseUntil` (epoch ms) when it is
   * free or its lease ran out, returning the item in the same call.
   */
  abstract acquire(key: string, owner: string, leaseUntil: number, now: number): Promise<LockOutcome>;
  /** Gives the lease back if `owner` still holds it. */
  abstract release(key: string, owner: string): Promise<void>;
  /** The unexpired sessions of a user (`session.setPrincipal(userId)`); `query.limit` bounds the work. */
  abstract findByPrincipal(principal: string, now?: number, query?: PrincipalSessionQuery): Promise<PrincipalSession[]>;
  /**
   * Deletes every session of a user ("sign out everywhere"); resolves with how many it ended. A session that
   * belongs to another user by now (setPrincipal) stays, whatever an index that lags says.
   */
  abstract destroyByPrincipal(principal: string): Promise<number>;

  /**
   * Deletes the session only while it belongs to `principal` (the account controls end sessions a lagging
   * index listed this way); true when a session of that user, live at `now` (epoch ms), ended. This default
   * reads the session and deletes it conditioned on the version read; a store that can condition a delete on
   * the principal itself (DynamoDbStore) does it in one call.
   */
  async destroyIfOwned(key: string, principal: string, now: number = Date.now()): Promise<boolean> {
    let session = await this.get(key);
    for (let attempt = 0; ; attempt++) {
      if (session?.principal !== principal) return false;
      const outcome = await this.destroy(key, session.version);
      if (outcome.status !== 'changed') return outcome.status === 'destroyed' && !hasExpired(session, now);
      if (attempt + 1 >= OWNED_DESTROY_TRIES) {
        throw new SessionConflictError(`Gave up ending another session of this user after ${attempt + 1} concurrent writes to it; try again.`);
      }
      session = outcome.current;
      await sleep(jitteredDelay(attempt, 5, 200));
    }
  }

  /** How attribute values are encoded; undefined means JSON (see jsonSerializer). */
  get serializer(): Serializer | undefined {
    return undefined;
  }

  /** Resolves when the store can serve requests (table exists, ...); rejects with the reason if it cannot. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Bytes the item's key attribute takes as DynamoDB counts it (name and value,
   * including any key prefix), for the size check before a write. The default
   * counts a 9-byte attribute name, as DynamoDbStore's, so a session that fits
   * in MemoryStore fits in DynamoDB too.
   */
  keyBytes(key: string): number {
    return KEY_ATTRIBUTE_NAME_BYTES + Buffer.byteLength(key, 'utf8');
  }

  /**
   * Sizes a session the way the store will write it and refuses it with SessionTooLargeError before any write when
   * an item would be over DynamoDB's limits; returns the bytes (for the item-size metric). `sizes` are the stored
   * sizes of the attributes, `metadataBytes` what the session carries besides them (key, principal, times),
   * `before` the stored sizes the write starts from (a store may keep an old value while it moves it).
   * The default is one item per session; a store that lays a session over several items says how.
   */
  fit(sizes: ReadonlyMap<string, number>, metadataBytes: number, _before?: ReadonlyMap<string, number>): number {
    return assertItemFits(sizes, metadataBytes);
  }

  /** A store whose expiry is built on the idle timeout (table rotation) names it, so the manager can check they agree. */
  get requiredMaxInactiveInterval(): number | undefined {
    return undefined;
  }
}

const KEY_ATTRIBUTE_NAME_BYTES = 'sessionId'.length;

/** Byte-exact equality of two stored values, as DynamoDB compares them in a condition. */
export function sameStoredValue(a: StoredValue | undefined | null, b: StoredValue | undefined | null): boolean {
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null);
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
