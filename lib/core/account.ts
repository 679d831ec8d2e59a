import { inFlight } from './in-flight';
import { SessionConfigError, SessionError, SessionKeyError, SessionNotFoundError, SessionReauthenticationRequiredError } from './errors';
import type { SessionEvents } from './events';
import { hasExpired } from './expiry';
import { isStorageKey } from './ids';
import type { ResolvedSessionOptions } from './options';
import type { PrincipalSession, StoredSession } from './session-store';

/** A session of the same user, as otherSessions() lists it ("your devices"). */
export interface OtherSession {
  /** The session's storage key (the SHA-256 of its id), never the id: what destroyOther() takes. */
  readonly handle: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds of its last stored write or touch (so within `touchAfter` of its last request). */
  readonly lastAccessedAt: number;
  /** Epoch milliseconds it ends unless used again. */
  readonly expiresAt: number;
  /** Recorded only with `recordClientInfo`: the User-Agent it was created or last logged in with (256 characters at most). */
  readonly userAgent?: string;
  /** Recorded only with `recordClientInfo`: the address the framework resolved (its trust-proxy setting applies). */
  readonly ip?: string;
}

/** What `recordClientInfo` stores about the client. */
export interface ClientInfo {
  readonly userAgent?: string | undefined;
  readonly ip?: string | undefined;
}

export const MAX_USER_AGENT_CHARS = 256;
/** Sessions read or ended at once by destroyOther(), destroyOthers() or an eviction: quick, without bursting a provisioned table. */
const IN_FLIGHT = 4;

/**
 * The bounds on one request's work in the account controls, whatever the number of sessions a user has
 * (docs/accounts.md, "What a request costs, at most"). Index entries otherSessions() and destroyOthers() read:
 * one Query (250 entries fit in one 1 MB page unless they average over 4 KB).
 */
export const ACCOUNT_INDEX_READ = 250;
/** Sessions otherSessions() lists at most: the most recently used of those read. */
export const MAX_LISTED_SESSIONS = 100;
/**
 * Sessions one request ends at most: each of destroyOthers() (the most recently used first), the limit after a
 * login (the least recently used first), and the handles destroyOther() may name (more fail with a 400).
 */
export const MAX_ENDED_PER_REQUEST = 100;

export function clientInfoOf(userAgent: string | string[] | undefined, ip: string | undefined): ClientInfo {
  const agent = Array.isArray(userAgent) ? userAgent[0] : userAgent;
  return {
    // By code point, so a cut never leaves half a surrogate pair (not valid UTF-8 for DynamoDB).
    ...(agent !== undefined && agent !== '' && { userAgent: Array.from(agent).slice(0, MAX_USER_AGENT_CHARS).join('') }),
    ...(ip !== undefined && ip !== '' && { ip }),
  };
}

/** Whole seconds since `authenticatedAt` (never negative, should clocks of two nodes disagree); undefined when never logged in. */
export function authAgeOf(authenticatedAt: number | undefined, now: number): number | undefined {
  return authenticatedAt === undefined ? undefined : Math.max(0, Math.floor((now - authenticatedAt) / 1000));
}

/**
 * The sessions a login evicts under `maxSessionsPerPrincipal`: the current one takes one place, the most
 * recently used others the rest. `own` (the new session, the one it replaced, which the index may still
 * list) never counts and never goes. Only sessions last used before the login (`loginAt`, epoch ms) go: two
 * logins at the same moment, each seeing the other, must not end each other (then one stays over the limit
 * until the next login).
 */
export function evictionVictims(found: readonly PrincipalSession[], limit: number, own: ReadonlySet<string>, loginAt: number): PrincipalSession[] {
  return byRecentUse(found.filter((s) => !own.has(s.key))).slice(Math.max(0, limit - 1)).filter((s) => s.lastAccessedAt < loginAt);
}

/** Most recently used first; ties by creation, then key, so the choice never depends on the index's order. */
function byRecentUse(sessions: PrincipalSession[]): PrincipalSession[] {
  return sessions.sort((a, b) => b.lastAccessedAt - a.lastAccessedAt || b.createdAt - a.createdAt || (a.key < b.key ? -1 : 1));
}

/** requireFreshAuth's argument, checked when the route is set up. */
export function checkFreshAuthLimit(maxAgeSeconds: unknown, where: string): number {
  if (typeof maxAgeSeconds !== 'number' || !Number.isFinite(maxAgeSeconds) || maxAgeSeconds < 0) {
    throw new SessionConfigError([`${where}(maxAgeSeconds) needs a number of seconds of 0 or more, got ${typeof maxAgeSeconds === 'number' ? maxAgeSeconds : typeof maxAgeSeconds}`]);
  }
  return maxAgeSeconds;
}

/**
 * Step-up authentication (OWASP ASVS V3.7.1): the route runs only for a session whose user logged in within
 * `maxAgeSeconds`. Reads the loaded session only.
 */
export function assertFreshAuth(session: { readonly principal: string | undefined; authAge(): number | undefined }, maxAgeSeconds: number): void {
  const age = session.principal === undefined ? undefined : session.authAge();
  if (age === undefined || age > maxAgeSeconds) throw new SessionReauthenticationRequiredError(maxAgeSeconds, age, session.principal !== undefined);
}

/** The session options the account controls use. */
export type AccountOptions = Pick<ResolvedSessionOptions, 'store' | 'now' | 'logger'>;

/**
 * One request's account controls: its login state, and the other sessions it
 * asked to end. They act at commit; listing reads the principal index at once.
 */
export class AccountControls {
  authenticatedAt: number | undefined;
  /** The stored login time must go: the principal changed without a login. */
  authCleared = false;
  /** login() was called; its eviction runs once its session is stored. */
  loginPending = false;
  /** The client the session's item records (as loaded, or as the next new item will). */
  client: ClientInfo = {};
  /** destroyOther(): each handle with the user it must belong to, as it was when asked. */
  private readonly targets = new Map<string, string | undefined>();
  /** destroyOthers(): whose other sessions go; null when not asked. */
  private allOthersOf: string | undefined | null = null;

  constructor(
    private readonly options: AccountOptions,
    private readonly events: SessionEvents,
  ) {}

  get pending(): boolean {
    return this.targets.size > 0 || this.allOthersOf !== null;
  }

  adopt(stored: StoredSession): void {
    this.authenticatedAt = stored.authenticatedAt;
    this.client = { userAgent: stored.userAgent, ip: stored.ip };
  }

  loggedIn(): void {
    this.authenticatedAt = this.options.now();
    this.authCleared = false;
    this.loginPending = true;
  }

  principalChanged(): void {
    this.authenticatedAt = undefined;
    this.authCleared = true;
    this.loginPending = false;
  }

  /** destroy(): the session ends, and its login with it. Sessions it asked to end still go. */
  reset(): void {
    this.client = {};
    this.authenticatedAt = undefined;
    this.authCleared = false;
    this.loginPending = false;
  }

  authAge(): number | undefined {
    return authAgeOf(this.authenticatedAt, this.options.now());
  }

  endOther(handle: string, principal: string | undefined): void {
    // Handles come back from clients: anything but a string names no session (404 at commit), never a 500.
    this.targets.set(typeof handle === 'string' ? handle : '', principal);
  }

  endOthers(principal: string | undefined): void {
    this.allOthersOf = principal;
  }

  /** At most MAX_LISTED_SESSIONS, the most recently used of the first ACCOUNT_INDEX_READ index entries. */
  async list(principal: string | undefined, own: ReadonlySet<string>): Promise<OtherSession[]> {
    if (principal === undefined) return [];
    const now = this.options.now();
    const found = await this.options.store.findByPrincipal(principal, now, { limit: ACCOUNT_INDEX_READ });
    return byRecentUse(found.filter((s) => !own.has(s.key))).slice(0, MAX_LISTED_SESSIONS).map((s) => ({
      handle: s.key,
      createdAt: s.createdAt,
      lastAccessedAt: s.lastAccessedAt,
      expiresAt: s.expiresAt * 1000,
      ...(s.userAgent !== undefined && { userAgent: s.userAgent }),
      ...(s.ip !== undefined && { ip: s.ip }),
    }));
  }

  /**
   * destroyOther() and destroyOthers(), before the session's own write. Every named handle is checked first,
   * so a handle of no session of this user (404), or more handles than one request may name (400), leaves
   * every session as it was. destroyOthers() ends at most MAX_ENDED_PER_REQUEST, the most recently used first.
   */
  async endAsked(own: ReadonlySet<string>): Promise<void> {
    if (!this.pending) return;
    const targets = [...this.targets].filter(([handle]) => !own.has(handle));
    if (targets.length > MAX_ENDED_PER_REQUEST) {
      throw new SessionKeyError(`destroyOther: one request may name at most ${MAX_ENDED_PER_REQUEST} other sessions, this one named ${targets.length}; nothing was deleted.`);
    }
    const checked = await inFlight(targets, IN_FLIGHT, async ([handle, principal]): Promise<Victim> => {
      // A handle is a storage key: anything else names no session and costs no call.
      const session = principal !== undefined && isStorageKey(handle) ? await this.ownedBy(handle, principal) : undefined;
      if (!session) throw new SessionNotFoundError('destroyOther: no live session of this user has that handle; nothing was deleted.');
      return { key: handle, principal: principal! };
    });
    let others: Victim[] = [];
    if (typeof this.allOthersOf === 'string') {
      const principal = this.allOthersOf;
      const named = new Set(checked.map((v) => v.key));
      const found = await this.options.store.findByPrincipal(principal, this.options.now(), { limit: ACCOUNT_INDEX_READ });
      const listed = byRecentUse(found.filter((s) => !own.has(s.key) && !named.has(s.key)));
      others = listed.slice(0, MAX_ENDED_PER_REQUEST).map((s) => ({ key: s.key, principal }));
      if (listed.length > others.length) {
        // Only a user with more sessions than a request ends (no maxSessionsPerPrincipal): worth an operator's look.
        this.options.logger.warn(
          `destroyOthers: this user has more other sessions than one request ends (${MAX_ENDED_PER_REQUEST}); ` +
            `the rest go with the next destroyOthers(), or all at once with store.destroyByPrincipal(userId).`,
        );
      }
    }
    await this.endAll([...checked, ...others], (key) => this.events.emit('destroyed', { key }));
    this.targets.clear();
    this.allOthersOf = null;
  }

  /**
   * After a login was stored under `key`: the user's sessions beyond the limit go, least recently used first.
   * The login is stored and answered whatever happens here: a store failure only logs, and the next login of
   * the user counts again (as it does for a session the eventually consistent index did not show yet).
   */
  async evict(principal: string, limit: number | undefined, own: ReadonlySet<string>, key: string): Promise<void> {
    this.loginPending = false;
    this.events.emit('login', { key });
    if (limit === undefined || this.authenticatedAt === undefined) return;
    const loginAt = this.authenticatedAt;
    try {
      const listed = await this.options.store.findByPrincipal(principal, this.options.now(), { limit: Math.max(ACCOUNT_INDEX_READ, limit + MAX_ENDED_PER_REQUEST) });
      const found = await this.withoutGoneSurvivors(listed, limit, own, principal);
      // Most recently used first: the least recently used go, at most MAX_ENDED_PER_REQUEST per login.
      const victims = evictionVictims(found, limit, own, loginAt).slice(-MAX_ENDED_PER_REQUEST);
      await this.endAll(victims.map((s) => ({ key: s.key, principal })), (ended) => {
        this.events.emit('destroyed', { key: ended });
        this.events.emit('evicted', { key: ended, by: key });
      });
    } catch (error) {
      const message = `maxSessionsPerPrincipal: could not end the sessions over the limit after a login (the next login tries again): ${(error as Error).message}`;
      if (error instanceof SessionError) this.options.logger.warn(message);
      else this.options.logger.error(message, error); // not the store: a bug or a throwing listener, which must not pass as a warning
    }
  }

  /**
   * The index may still list a session deleted a moment ago (a logout, another re-login) with a recent use: it
   * must not take the place of a live one. Only when someone would be ended, the sessions that would stay are
   * read (at most limit - 1), and those gone are left out.
   */
  private async withoutGoneSurvivors(found: PrincipalSession[], limit: number, own: ReadonlySet<string>, principal: string): Promise<PrincipalSession[]> {
    const ranked = byRecentUse(found.filter((s) => !own.has(s.key)));
    if (ranked.length < limit) return found;
    const gone = new Set<string>();
    let kept = 0;
    for (const s of ranked) {
      if (kept >= limit - 1) break;
      if (await this.ownedBy(s.key, principal)) kept++;
      else gone.add(s.key);
    }
    return found.filter((s) => !gone.has(s.key));
  }

  /** The session under `key` when it is live and belongs to `principal`. */
  private async ownedBy(key: string, principal: string): Promise<StoredSession | undefined> {
    const session = await this.options.store.get(key);
    return session && session.principal === principal && !hasExpired(session, this.options.now()) ? session : undefined;
  }

  /**
   * Deletes each session only while it still belongs to the user (store.destroyIfOwned: the index may lag a
   * change of principal, and a session may change user after a check); `ended` hears of those that ended.
   */
  private async endAll(victims: Victim[], ended: (key: string) => void): Promise<void> {
    const now = this.options.now();
    await inFlight(victims, IN_FLIGHT, async (victim) => {
      if (await this.options.store.destroyIfOwned(victim.key, victim.principal, now)) ended(victim.key);
    });
  }
}

interface Victim {
  readonly key: string;
  readonly principal: string;
}
