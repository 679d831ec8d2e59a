import { SessionConflictError, SessionStoreError } from './errors';
import type { SessionEvents } from './events';
import type { HeaderList, IdTransport, RequestHeaders } from './id-transport';
import { generateSessionId, storageKeyOf } from './ids';
import { assertItemFits } from './item-size';
import type { ResolvedSessionOptions } from './options';
import { matchesAny } from './patterns';
import { FORBIDDEN_KEYS, Serializer } from './serializer';
import { attributesOf, clearAttributes, createSessionObject, RESERVED_NAMES, Session, SessionState } from './session';
import type { IdSigner } from './signer';
import { Encoded, fingerprint, fromStoredValue, storedSize, toStoredValue } from './stored-value';
import type { StoredSession, StoredValue } from '../store/session-store';

/** What an adapter tells the core about a request. */
export interface RequestInfo {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** Header names in lower case, as Node presents them. */
  readonly headers: RequestHeaders;
  /** Whether the request came over HTTPS (after the framework's trusted-proxy rules). */
  readonly secure: boolean;
}

/** Headers the adapter must add to the response. */
export interface CommitResult {
  readonly headers: HeaderList;
}

/** The manager's shared, immutable parts every request context uses. */
export interface SessionRuntime {
  readonly options: ResolvedSessionOptions;
  readonly signer: IdSigner;
  readonly transport: IdTransport;
  readonly serializer: Serializer;
  readonly events: SessionEvents;
}

/** The stored item behind the session, as of the last load or commit: what the next commit diffs against. */
interface Baseline {
  readonly key: string;
  times: Pick<StoredSession, 'createdAt' | 'expiresAt' | 'absoluteExpiresAt'>;
  readonly fingerprints: Map<string, string>;
  readonly sizes: Map<string, number>;
}

const NOTHING: CommitResult = Object.freeze({ headers: [] });

/**
 * One request's session: loads on first use (at most once), commits what changed.
 * This is the valve of the seeds; the Koa and Nest adapters only call it.
 */
export class SessionContext implements SessionState {
  readonly ignored: boolean;
  id = '';
  isNew = true;

  private loading: Promise<Session> | undefined;
  private session: Session | undefined;
  private baseline: Baseline | undefined;
  /** Items left behind by regenerate()/destroy(), deleted at commit. */
  private staleKeys: string[] = [];
  /** regenerate() keeps the creation time and absolute deadline of the session it replaces. */
  private carriedTimes: Pick<StoredSession, 'createdAt' | 'absoluteExpiresAt'> | undefined;
  private forceTouch = false;
  private reissueId = false;
  /** Set when the store failed on load under onStoreError 'continue-without-session': never write. */
  private detached = false;
  private commitChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly runtime: SessionRuntime,
    readonly request: RequestInfo,
  ) {
    this.ignored = this.isIgnored();
  }

  /** The session, loaded on the first call; later calls return the same promise. */
  load(): Promise<Session> {
    if (!this.loading) {
      this.loading = this.loadOnce();
      // A handler may start a load it never awaits; its failure must not become an unhandled rejection.
      this.loading.catch(() => undefined);
    }
    return this.loading;
  }

  get loaded(): boolean {
    return this.loading !== undefined;
  }

  /**
   * Writes what changed since the last load or commit and returns the headers to send.
   * Safe to call more than once: calls run one after another and each writes only newer changes.
   */
  commit(): Promise<CommitResult> {
    const next = this.commitChain.then(() => this.commitOnce());
    this.commitChain = next.catch(() => undefined);
    return next;
  }

  regenerate(): void {
    this.retireStoredItem(true);
    this.id = generateSessionId();
    this.isNew = true;
  }

  destroy(): void {
    this.retireStoredItem(false);
    if (this.session) clearAttributes(this.session);
    this.id = generateSessionId();
    this.isNew = true;
  }

  touch(): void {
    this.forceTouch = true;
  }

  private async loadOnce(): Promise<Session> {
    const { signer, transport, events, options } = this.runtime;
    const raw = transport.read(this.request.headers);
    const verified = raw ? signer.verify(raw) : undefined;
    if (raw && !verified) events.emit('invalid', { reason: raw.length === 87 ? 'bad-signature' : 'malformed' });
    if (verified) {
      const key = storageKeyOf(verified.id);
      let stored: StoredSession | undefined;
      try {
        stored = await options.store.get(key);
      } catch (error) {
        if (options.onStoreError === 'continue-without-session' && error instanceof SessionStoreError) {
          options.logger.warn(`session store unavailable, serving an unsaved session: ${error.message}`);
          this.detached = true;
          return this.startFresh();
        }
        throw error;
      }
      if (stored && this.hasExpired(stored)) {
        events.emit('expired', { key });
        stored = undefined;
      }
      if (stored) {
        this.id = verified.id;
        this.isNew = false;
        this.reissueId = verified.signedWithOldSecret;
        return this.adopt(key, stored);
      }
    }
    return this.startFresh();
  }

  private startFresh(): Session {
    this.id = generateSessionId();
    this.isNew = true;
    this.session = createSessionObject(this, {});
    return this.session;
  }

  private async adopt(key: string, stored: StoredSession): Promise<Session> {
    const { serializer, options } = this.runtime;
    const fingerprints = new Map<string, string>();
    const sizes = new Map<string, number>();
    const attributes: Record<string, unknown> = {};
    const entries = Object.entries(stored.data).filter(([name]) => {
      if (FORBIDDEN_KEYS.has(name)) return false;
      if (RESERVED_NAMES.has(name)) options.logger.warn(`ignoring stored attribute "${name}": the name is reserved for a session member`);
      return !RESERVED_NAMES.has(name);
    });
    await Promise.all(
      entries.map(async ([name, value]) => {
        const encoded = await fromStoredValue(value);
        fingerprints.set(name, fingerprint(encoded));
        sizes.set(name, storedSize(value));
        attributes[name] = serializer.decode(encoded, name);
      }),
    );
    this.baseline = { key, times: stored, fingerprints, sizes };
    this.session = createSessionObject(this, attributes);
    return this.session;
  }

  private async commitOnce(): Promise<CommitResult> {
    if (!this.loading || this.ignored) return NOTHING;
    try {
      await this.loading;
    } catch {
      return NOTHING; // the load's error already reached the handler
    }
    if (this.detached || !this.session) return NOTHING;
    const now = this.runtime.options.now();
    const encoded = this.encodeAttributes(this.session);
    return this.baseline ? this.commitToStoredItem(this.baseline, encoded, now) : this.commitNewItem(encoded, now);
  }

  private async commitToStoredItem(base: Baseline, encoded: Map<string, Encoded>, now: number): Promise<CommitResult> {
    const { options, events } = this.runtime;
    const changed = [...encoded].filter(([name, value]) => base.fingerprints.get(name) !== fingerprint(value));
    const removed = [...base.fingerprints.keys()].filter((name) => !encoded.has(name));
    const expiresAt = this.idleDeadline(now, base.times.absoluteExpiresAt);
    const touchOnly = changed.length === 0 && removed.length === 0;
    if (touchOnly && !this.forceTouch && expiresAt - base.times.expiresAt < options.touchAfter) {
      return this.reissueId ? this.issueId() : NOTHING;
    }
    const set = await this.toStored(changed);
    const sizes = new Map(base.sizes);
    for (const [name, value] of set) sizes.set(name, storedSize(value));
    for (const name of removed) sizes.delete(name);
    assertItemFits(sizes);

    const stored = await options.store.update(base.key, { set, remove: removed, lastAccessedAt: now, expiresAt, now });
    if (!stored) {
      if (touchOnly) return NOTHING; // nothing was lost: the session ended, the next request starts a new one
      throw new SessionConflictError(
        'The session was destroyed or expired by another request while this one ran; this change was not stored.',
      );
    }
    for (const [name, value] of changed) base.fingerprints.set(name, fingerprint(value));
    for (const name of removed) base.fingerprints.delete(name);
    base.sizes.clear();
    for (const [name, bytes] of sizes) base.sizes.set(name, bytes);
    base.times = { ...base.times, expiresAt };
    this.forceTouch = false;
    events.emit('saved', { key: base.key, changed: changed.map(([n]) => n), removed, touchOnly });
    // A persistent cookie follows the session's expiry; a browser-session cookie need not be re-sent.
    return this.reissueId || options.cookie.maxAge !== undefined ? this.issueId() : NOTHING;
  }

  private async commitNewItem(encoded: Map<string, Encoded>, now: number): Promise<CommitResult> {
    const { options, events } = this.runtime;
    const stale = this.staleKeys;
    if (encoded.size === 0) {
      await this.deleteItems(stale);
      return stale.length > 0 ? { headers: this.runtime.transport.clear(this.request.secure) } : NOTHING;
    }
    const data = await this.toStored([...encoded]);
    const sizes = new Map([...data].map(([name, value]) => [name, storedSize(value)]));
    assertItemFits(sizes);
    const key = storageKeyOf(this.id);
    const absoluteExpiresAt =
      this.carriedTimes?.absoluteExpiresAt ??
      (options.absoluteTimeout === undefined ? undefined : Math.floor(now / 1000) + options.absoluteTimeout);
    const times = { createdAt: this.carriedTimes?.createdAt ?? now, expiresAt: this.idleDeadline(now, absoluteExpiresAt), absoluteExpiresAt };
    await options.store.create(key, { ...times, lastAccessedAt: now, data: Object.fromEntries(data) });
    // Only now that the new item exists: a failed create leaves the old session intact.
    await this.deleteItems(stale);
    this.baseline = {
      key,
      times,
      fingerprints: new Map([...encoded].map(([name, value]) => [name, fingerprint(value)])),
      sizes,
    };
    this.isNew = false;
    this.carriedTimes = undefined;
    this.forceTouch = false;
    events.emit('created', { key });
    return this.issueId();
  }

  private retireStoredItem(keepTimes: boolean): void {
    if (this.baseline) {
      this.staleKeys.push(this.baseline.key);
      if (keepTimes) this.carriedTimes = this.baseline.times;
    }
    if (!keepTimes) this.carriedTimes = undefined;
    this.baseline = undefined;
  }

  private async deleteItems(keys: string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.runtime.options.store.destroy(key)));
    for (const key of keys) this.runtime.events.emit('destroyed', { key });
    this.staleKeys = [];
  }

  private issueId(): CommitResult {
    this.reissueId = false;
    return { headers: this.runtime.transport.issue(this.runtime.signer.sign(this.id), this.request.secure) };
  }

  private encodeAttributes(session: Session): Map<string, Encoded> {
    const encoded = new Map<string, Encoded>();
    for (const [name, value] of attributesOf(session)) encoded.set(name, this.runtime.serializer.encode(value, name));
    return encoded;
  }

  private async toStored(entries: Array<[string, Encoded]>): Promise<Map<string, StoredValue>> {
    const threshold = this.runtime.options.compressThreshold;
    const stored = await Promise.all(entries.map(async ([name, value]) => [name, await toStoredValue(value, threshold)] as const));
    return new Map(stored);
  }

  /** Epoch seconds: the idle deadline, never past the absolute one (so TTL removes the item at either). */
  private idleDeadline(now: number, absoluteExpiresAt: number | undefined): number {
    const idle = Math.floor(now / 1000) + this.runtime.options.maxInactiveInterval;
    return absoluteExpiresAt === undefined ? idle : Math.min(idle, absoluteExpiresAt);
  }

  private hasExpired(stored: StoredSession): boolean {
    const nowSeconds = this.runtime.options.now() / 1000;
    return stored.expiresAt <= nowSeconds || (stored.absoluteExpiresAt !== undefined && stored.absoluteExpiresAt <= nowSeconds);
  }

  private isIgnored(): boolean {
    const { ignoreUris, ignoreHeaders } = this.runtime.options;
    if (ignoreUris.length > 0 && matchesAny(ignoreUris, this.request.path)) return true;
    if (ignoreHeaders.length === 0) return false;
    return Object.keys(this.request.headers).some((name) => matchesAny(ignoreHeaders, name));
  }
}
