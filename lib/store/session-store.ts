/** An attribute value as stored: serializer text, or bytes with a format marker (see core/stored-value). */
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
}

export interface StoredSession extends SessionTimes {
  readonly data: Readonly<Record<string, StoredValue>>;
  readonly version: number;
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
}

/**
 * The storage contract. Keys are already hashed by the core, so a store never
 * sees a raw session id; values are already encoded. A store knows nothing of HTTP.
 */
export abstract class SessionStore {
  /** The item, or undefined when there is none. Expiry is judged by the caller. */
  abstract get(key: string): Promise<StoredSession | undefined>;
  /** Creates the item; fails if one exists under the key. */
  abstract create(key: string, session: NewSession): Promise<void>;
  /**
   * Applies the delta to an existing, unexpired item. Resolves `false`, writing nothing,
   * when the item is gone or expired, so a late write never resurrects a destroyed session.
   */
  abstract update(key: string, update: SessionUpdate): Promise<boolean>;
  abstract destroy(key: string): Promise<void>;

  /** Resolves when the store can serve requests (table exists, ...); rejects with the reason if it cannot. */
  ready(): Promise<void> {
    return Promise.resolve();
  }
}
