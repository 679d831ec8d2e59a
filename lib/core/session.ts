import { SessionKeyError } from './errors';
import type { AccountControls, OtherSession } from './account';

/**
 * The attributes an app keeps in its sessions. Augment it to type them:
 *
 *   declare module 'dynamo-session' { interface SessionData { user?: { name: string } } }
 */
export interface SessionData {
  [attribute: string]: unknown;
}

/** Members every session has besides its attributes. They are non-enumerable, so they are never stored. */
export interface SessionControls {
  /** The raw session id (43 characters). Never stored: the table only holds its SHA-256. */
  readonly id: string;
  /** True until the session has been stored once. */
  readonly isNew: boolean;
  /** Moves the data to a new id at commit and deletes the old item. Call it after login or a privilege change. */
  regenerate(): void;
  /** Deletes the stored session at commit and clears the cookie. The object becomes a new, empty session. */
  destroy(): void;
  /** Extends the expiry at commit even when `touchAfter` would skip it. */
  touch(): void;
  /**
   * This session's idle timeout in seconds ("remember me"), stored with it.
   * The cookie becomes persistent with the same Max-Age.
   */
  setMaxInactiveInterval(seconds: number): void;
  /** The idle timeout in force for this session, in seconds. */
  readonly maxInactiveInterval: number;
  /** Ties the session to a user, so `store.findByPrincipal` / `destroyByPrincipal` find it; null unties it. */
  setPrincipal(principal: string | null): void;
  /** The user set with setPrincipal or login, if any. */
  readonly principal: string | undefined;
  /**
   * Logs `userId` in, at commit: a new id (the session fixation defence, as regenerate()), the principal, and
   * `authenticatedAt` = now. Then, with `maxSessionsPerPrincipal`, the user's least recently used other sessions
   * beyond the limit are destroyed. The session is stored even when it holds no attribute.
   *
   * Bounded: the limit reads at most 250 index entries (maxSessionsPerPrincipal + 100 when that is more: one
   * Query), reads the sessions that stay (maxSessionsPerPrincipal − 1, plus any the index still lists after their
   * deletion), and ends at most 100 sessions per login, the least recently used of those read, each with one
   * delete conditioned on the user; a user further over the limit loses the rest at the next logins.
   */
  login(userId: string): void;
  /** Epoch milliseconds of the last login(); carried by regenerate(), gone with destroy() or a change of principal. */
  readonly authenticatedAt: number | undefined;
  /** Whole seconds since the last login(); undefined when this session never logged in. Reads no store. */
  authAge(): number | undefined;
  /**
   * The same user's other live sessions, most recently used first ("your devices"): at most 100, the most
   * recently used of the first 250 entries the principal index gives (so a user with more than 250 sessions sees
   * 100 of some 250 of them). One index Query, whatever the number of sessions.
   */
  otherSessions(): Promise<OtherSession[]>;
  /**
   * Destroys another session of the same user, named by its `handle` from otherSessions(), at commit. A handle of
   * no live session of this user fails the request with SessionNotFoundError (404) and deletes nothing; this
   * session's own handle acts as destroy(). One request may name at most 100 other sessions: more fail it with
   * SessionKeyError (400) before any call, deleting nothing. Each costs a read and a delete conditioned on the user.
   */
  destroyOther(handle: string): void;
  /**
   * Destroys the same user's other sessions at commit ("sign out my other devices"): one index Query (at most 250
   * entries) and at most 100 sessions per request, the most recently used first, each with one delete
   * conditioned on the user. A user with more keeps the rest until the next call; `store.destroyByPrincipal(userId)`
   * ends every session of a user, this one included, outside a request.
   */
  destroyOthers(): void;
}

export type Session<T extends object = SessionData> = T & SessionControls;

/** Names a stored attribute may not have, since the controls live under them. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'id', 'isNew', 'regenerate', 'destroy', 'touch', 'setMaxInactiveInterval', 'maxInactiveInterval', 'setPrincipal', 'principal',
  'login', 'authenticatedAt', 'authAge', 'otherSessions', 'destroyOther', 'destroyOthers',
]);

/** What the controls act on; owned by the request's SessionContext. */
export interface SessionState {
  id: string;
  isNew: boolean;
  readonly maxInactiveInterval: number;
  readonly principal: string | undefined;
  regenerate(): void;
  destroy(): void;
  touch(): void;
  setMaxInactiveInterval(seconds: number): void;
  setPrincipal(principal: string | null): void;
  readonly account: Pick<AccountControls, 'authenticatedAt' | 'authAge'>;
  login(userId: string): void;
  otherSessions(): Promise<OtherSession[]>;
  destroyOther(handle: string): void;
  destroyOthers(): void;
}

/**
 * The session object apps see. Its controls live on the prototype (one set for
 * all sessions, nothing per request) and reach the request's state through a
 * private field, so only attributes are own enumerable properties.
 */
class SessionObject {
  readonly #state: SessionState;

  constructor(state: SessionState) {
    this.#state = state;
  }

  get id(): string {
    return this.#state.id;
  }
  get isNew(): boolean {
    return this.#state.isNew;
  }
  get maxInactiveInterval(): number {
    return this.#state.maxInactiveInterval;
  }
  get principal(): string | undefined {
    return this.#state.principal;
  }
  regenerate(): void {
    this.#state.regenerate();
  }
  destroy(): void {
    this.#state.destroy();
  }
  touch(): void {
    this.#state.touch();
  }
  setMaxInactiveInterval(seconds: number): void {
    this.#state.setMaxInactiveInterval(seconds);
  }
  setPrincipal(principal: string | null): void {
    this.#state.setPrincipal(principal);
  }
  get authenticatedAt(): number | undefined {
    return this.#state.account.authenticatedAt;
  }
  login(userId: string): void {
    this.#state.login(userId);
  }
  authAge(): number | undefined {
    return this.#state.account.authAge();
  }
  otherSessions(): Promise<OtherSession[]> {
    return this.#state.otherSessions();
  }
  destroyOther(handle: string): void {
    this.#state.destroyOther(handle);
  }
  destroyOthers(): void {
    this.#state.destroyOthers();
  }
}

// `session.__proto__ = value` would swap the session's prototype rather than store an attribute: refuse it where it happens.
Object.defineProperty(SessionObject.prototype, '__proto__', {
  get(this: object): object | null {
    return Object.getPrototypeOf(this) as object | null;
  },
  set() {
    throw new SessionKeyError('Session attributes may not be named "__proto__".');
  },
});
// Assigning to a getter-only member would throw a bare TypeError (or be ignored in sloppy mode): name the mistake instead.
for (const name of RESERVED_NAMES) {
  const descriptor = Object.getOwnPropertyDescriptor(SessionObject.prototype, name);
  if (descriptor?.get) Object.defineProperty(SessionObject.prototype, name, { ...descriptor, set: () => refuseReserved(name) });
}

function refuseReserved(name: string): never {
  throw new SessionKeyError(`"${name}" is a session member, not an attribute; choose another attribute name.`);
}

export function createSessionObject(state: SessionState, attributes: Record<string, unknown>): Session {
  return Object.assign(new SessionObject(state), attributes);
}

/** The current attributes: own enumerable properties. Setting one to undefined removes it. */
export function attributesOf(session: Session): Array<[string, unknown]> {
  return Object.entries(session).filter(([, value]) => value !== undefined);
}

export function clearAttributes(session: Session): void {
  for (const name of Object.keys(session)) delete (session as SessionData)[name];
}
