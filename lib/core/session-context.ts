import { AccountControls, assertFreshAuth, clientInfoOf, OtherSession } from './account';
import { encodeAttributes, toStored } from './attribute-codec';
import { resolveConflict } from './commit-conflict';
import { checkMaxInactiveInterval, checkPrincipal } from './controls';
import { advanceBaseline, Baseline, createdBaseline, deltaAgainst, projectedSizes, sizesOf } from './delta';
import { SessionConflictError, SessionStoreError } from './errors';
import { idleDeadline, touchStep } from './expiry';
import { recordSave } from './redact';
import { generateSessionId, storageKeyOf } from './ids';
import { metadataBytes } from './item-size';
import { measured } from './metrics';
import { HeldLease, releaseQuietly } from './lease';
import { loadItem, requestedKey } from './session-load';
import { isIgnoredRequest } from './patterns';
import { attributesOf, clearAttributes, createSessionObject, Session, SessionState } from './session';
import { endSession, hasContent, moveSession, NewItem, newSessionTimes, RetiredItem } from './session-move';
import { writeReason } from './write-reason';
import type { Encoded } from './stored-value';
import type { StoredSession, StoredValue } from './session-store';
import type { CommitResult, RequestInfo, SessionRuntime } from './request-types';

const NOTHING: CommitResult = Object.freeze({ headers: [] });

/**
 * One request's session: loads on first use (at most once), commits what changed.
 * This is the per-request valve (as EnergyHub's DynamoSessionTrackerValve is
 * for Tomcat); the Koa and Nest adapters only call it.
 */
export class SessionContext implements SessionState {
  readonly ignored: boolean;
  id = '';
  isNew = true;

  private loading: Promise<Session> | undefined;
  private session: Session | undefined;
  private baseline: Baseline | undefined;
  /** Items left behind by destroy(), deleted at commit. */
  private staleKeys: string[] = [];
  /** The item regenerate() moves away from, deleted at commit only at the version this request saw. */
  private retired: RetiredItem | undefined;
  /** Changes asked for besides attributes; under 'continue-without-session' they cannot be made. */
  private controlsUsed = false;
  private committed = false;
  /** regenerate() keeps the creation time and absolute deadline of the session it replaces. */
  private carriedTimes: Pick<StoredSession, 'createdAt' | 'absoluteExpiresAt' | 'maxInactiveInterval'> | undefined;
  /** This session's own idle timeout, set by setMaxInactiveInterval() or loaded with it. */
  private ownMaxInactiveInterval: number | undefined;
  private maxInactiveIntervalChanged = false;
  principal: string | undefined;
  private principalChanged = false;
  /** The lease this request holds under locking, until a commit releases it. */
  private lease: HeldLease | undefined;
  private forceTouch = false;
  private reissueId = false;
  /** The load's store error under onStoreError 'continue-without-session': this request never writes. */
  private detachedBy: SessionStoreError | undefined;
  private commitChain: Promise<unknown> = Promise.resolve();
  private accountState: AccountControls | undefined;

  constructor(
    private readonly runtime: SessionRuntime,
    readonly request: RequestInfo,
  ) {
    this.ignored = isIgnoredRequest(runtime.options, request.path, request.headers);
  }

  /** What the session object reads of the account controls (a request that never loads makes none). */
  get account(): Pick<AccountControls, 'authenticatedAt' | 'authAge'> {
    return this.accountControls;
  }

  /** The login state (authenticatedAt, authAge()) and the other sessions asked to end; made on first use. */
  private get accountControls(): AccountControls {
    return (this.accountState ??= new AccountControls(this.runtime.options, this.runtime.events));
  }

  /** The session, loaded on the first call; later calls return the same promise. */
  load(): Promise<Session> {
    if (!this.loading) {
      this.loading = measured(this.runtime.options.metrics, 'load', () => this.loadOnce());
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
   * Under locking the first commit releases the lease, whatever happens.
   */
  commit(): Promise<CommitResult> {
    const next = this.commitChain.then(() => measured(this.runtime.options.metrics, 'commit', () => this.commitOnce()));
    this.commitChain = next.catch(() => undefined);
    return next;
  }

  regenerate(): void {
    this.controlsUsed = true;
    this.retireStoredItem(true);
    this.id = generateSessionId();
    this.isNew = true;
  }

  /** Ends the session at commit. Needs no load (nor a readable session): a logout can call it before, or after a failed load. */
  destroy(): void {
    this.controlsUsed = true;
    this.accountControls.reset();
    // Nothing found under the request's id (another tab's login moved it): end what it names, so a logout is final.
    const foundNone = this.session !== undefined && this.baseline === undefined && this.retired === undefined;
    this.retireStoredItem(false);
    if (!this.session) this.endUnread();
    else clearAttributes(this.session);
    if (foundNone) this.endRequested();
    this.id = generateSessionId();
    this.isNew = true;
  }

  touch(): void {
    this.controlsUsed = true;
    this.forceTouch = true;
  }

  setMaxInactiveInterval(seconds: number): void {
    checkMaxInactiveInterval(seconds, this.runtime.options.store.requiredMaxInactiveInterval);
    this.controlsUsed = true;
    this.ownMaxInactiveInterval = seconds;
    this.maxInactiveIntervalChanged = true;
  }

  setPrincipal(principal: string | null): void {
    checkPrincipal(principal);
    this.controlsUsed = true;
    // A login was of the user it named: another user, or none, has not logged in.
    if ((principal ?? undefined) !== this.principal) this.accountControls.principalChanged();
    this.principal = principal ?? undefined;
    this.principalChanged = true;
  }

  login(userId: string): void {
    checkPrincipal(userId, 'login');
    this.regenerate();
    this.setPrincipal(userId);
    this.accountControls.loggedIn();
  }

  otherSessions(): Promise<OtherSession[]> {
    // Without the store (continue-without-session) there is no user to list for: the outage, not "no devices".
    if (this.detachedBy) return Promise.reject(this.detachedBy);
    return this.accountControls.list(this.principal, this.ownKeys());
  }

  /** Step-up: resolves when the session's user logged in within `maxAgeSeconds`; 401, or the store's 503, otherwise. */
  async requireFreshAuth(maxAgeSeconds: number): Promise<void> {
    const session = await this.load();
    if (this.detachedBy) throw this.detachedBy;
    assertFreshAuth(session, maxAgeSeconds);
  }

  destroyOther(handle: string): void {
    if (this.baseline !== undefined && handle === this.baseline.key) return this.destroy();
    this.controlsUsed = true;
    this.accountControls.endOther(handle, this.principal);
  }

  destroyOthers(): void {
    this.controlsUsed = true;
    this.accountControls.endOthers(this.principal);
  }

  /** The keys this session has or had in this request (the index may still list a replaced one): never "another" session. */
  private ownKeys(): Set<string> {
    const keys = new Set([storageKeyOf(this.id), ...this.staleKeys]);
    if (this.baseline) keys.add(this.baseline.key);
    if (this.retired) keys.add(this.retired.key);
    return keys;
  }

  get maxInactiveInterval(): number {
    return this.ownMaxInactiveInterval ?? this.runtime.options.maxInactiveInterval;
  }

  private async loadOnce(): Promise<Session> {
    const { found, lease, detachedBy } = await loadItem(this.runtime, this.request, this.ignored || this.committed);
    this.lease = lease;
    this.detachedBy = detachedBy;
    if (this.session) return this.session; // a destroy() while the read ran ended it (endUnread): nothing found is adopted
    if (!found) return this.startFresh();
    this.id = found.id;
    this.isNew = false;
    this.reissueId = found.signedWithOldSecret;
    this.baseline = found.baseline;
    this.ownMaxInactiveInterval = found.stored.maxInactiveInterval;
    this.principal = found.stored.principal;
    this.accountControls.adopt(found.stored);
    return (this.session = createSessionObject(this, found.attributes));
  }

  /** destroy() before a load gave a session (none, one under way, or one that failed): ends what the request's id names. */
  private endUnread(): void {
    this.endRequested();
    const fresh = (this.session = createSessionObject(this, {}));
    // Later loads get the new, empty session; a read still under way is waited for, so the commit knows of its lease.
    this.loading = (this.loading ?? Promise.resolve()).then(() => fresh, () => fresh);
  }

  /** Ends, at commit, the session the request's id names (once): no store call, no decoding, so an unreadable one ends too. */
  private endRequested(): void {
    const key = requestedKey(this.runtime, this.request);
    if (key !== undefined && !this.staleKeys.includes(key)) this.staleKeys.push(key);
  }

  private startFresh(): Session {
    this.id = generateSessionId();
    this.isNew = true;
    this.session = createSessionObject(this, {});
    return this.session;
  }

  private async commitOnce(): Promise<CommitResult> {
    // A load after the commit (a task the handler left running) must not take a lease nobody would release.
    this.committed = true;
    if (!this.loading || this.ignored) return NOTHING;
    try {
      await this.loading;
    } catch {
      return NOTHING; // the load's error already reached the handler
    }
    if (!this.session) return NOTHING;
    if (this.detachedBy) {
      // Reads may go on without the store; a change the handler asked for cannot (a logout that
      // answered 2xx while the session stayed valid would be the worst case), so it fails with the load's error.
      if (this.controlsUsed || attributesOf(this.session).length > 0) throw this.detachedBy;
      return NOTHING;
    }
    try {
      const now = this.runtime.options.now();
      const encoded = encodeAttributes(this.session, this.runtime.codec);
      // Other sessions go before this session's own write, so a 404 leaves everything as it was; only then is the id hashed.
      const own = this.accountControls.pending || this.accountControls.loginPending ? this.ownKeys() : new Set<string>();
      await this.accountControls.endAsked(own);
      const result = this.baseline ? await this.commitToStoredItem(this.baseline, encoded, now) : await this.commitNewItem(encoded, now);
      if (this.accountControls.loginPending && this.baseline && this.principal !== undefined) {
        for (const key of this.ownKeys()) own.add(key);
        await this.accountControls.evict(this.principal, this.runtime.options.maxSessionsPerPrincipal, own, this.baseline.key);
      }
      return result;
    } finally {
      await this.releaseLease();
    }
  }

  private async commitToStoredItem(base: Baseline, encoded: Map<string, Encoded>, now: number): Promise<CommitResult> {
    const { options, events } = this.runtime;
    const guarded = options.onConflict !== 'last-write-wins' && this.lease === undefined;
    const delta = await deltaAgainst(base, encoded, guarded, this.runtime.codec);
    const expiresAt = idleDeadline(now, this.maxInactiveInterval, base.times.absoluteExpiresAt);
    const intervalChanged = this.maxInactiveIntervalChanged;
    const principalChanged = this.principalChanged;
    const reason = writeReason({
      changed: delta.set.size > 0 || delta.remove.length > 0, principalChanged, intervalChanged, forced: this.forceTouch,
      deadlineMovedBy: expiresAt - base.times.expiresAt, touchStep: touchStep(options.touchAfter, this.maxInactiveInterval),
    });
    if (reason === undefined) return this.reissueId ? this.issueId() : NOTHING;
    const touchOnly = reason === 'forced' || reason === 'touch';
    const lockOwner = this.lease?.owner;
    // What the item holds before our delta: as loaded, or as read back from a conflict.
    let itemValues: ReadonlyMap<string, StoredValue> = base.values;
    let bytes: number;
    for (let attempt = 0; ; attempt++) {
      bytes = options.store.fit(projectedSizes(itemValues, delta), this.metadataBytes(base.key), sizesOf(itemValues));
      const outcome = await options.store.update(base.key, {
        set: delta.set, remove: delta.remove, lastAccessedAt: now, expiresAt, now,
        ...(delta.expected && { expected: delta.expected }),
        ...(lockOwner !== undefined && { lockOwner, leaseUntil: now + options.lockExpiration }),
        ...(intervalChanged && { maxInactiveInterval: this.maxInactiveInterval }),
        ...(principalChanged && { principal: this.principal ?? null }),
        ...(principalChanged && this.accountControls.authCleared && { authenticatedAt: null }),
      });
      if (outcome.status === 'stored') break;
      if (lockOwner !== undefined && outcome.status !== 'gone') this.lease = undefined; // taken over; gone here may be live elsewhere
      if (outcome.status === 'gone') {
        if (touchOnly) return NOTHING; // nothing asked for was lost: the session ended, the next request starts a new one
        throw new SessionConflictError('The session was destroyed or expired by another request while this one ran; this change was not stored.');
      }
      if (lockOwner !== undefined) {
        throw new SessionConflictError(`This request held the session lock longer than lockExpiration (${options.lockExpiration} ms) and lost it; nothing was written.`);
      }
      await resolveConflict(this.runtime, this.session!, base.key, delta, outcome.current, attempt);
      itemValues = new Map(Object.entries(outcome.current.data));
    }
    if (lockOwner !== undefined) this.lease = undefined;
    advanceBaseline(base, delta, expiresAt);
    this.forceTouch = false;
    this.maxInactiveIntervalChanged = false;
    this.principalChanged = false;
    this.accountControls.authCleared = false;
    recordSave(this.runtime.options, base.key, bytes, delta.set, this.session!);
    events.emit('saved', { key: base.key, changed: [...delta.set.keys()], removed: delta.remove, touchOnly });
    // A persistent cookie follows the session's expiry; a browser-session cookie need not be re-sent.
    const persistent = options.cookie.maxAge !== undefined || this.ownMaxInactiveInterval !== undefined;
    return this.reissueId || persistent ? this.issueId() : NOTHING;
  }

  private async commitNewItem(encoded: Map<string, Encoded>, now: number): Promise<CommitResult> {
    const { options, events } = this.runtime;
    const retired = this.retired;
    if (retired === undefined && !hasContent(encoded.size, { principal: this.principal, maxInactiveInterval: this.ownMaxInactiveInterval })) {
      const stale = this.staleKeys;
      await this.deleteItems(stale);
      return stale.length > 0 ? { headers: this.runtime.transport.clear(this.request.secure) } : NOTHING;
    }
    const key = storageKeyOf(this.id);
    // A new item is made by the client in front of us: created, logged in, or regenerated.
    this.accountControls.client = options.recordClientInfo ? clientInfoOf(this.request.headers['user-agent'], this.request.ip) : {};
    if (this.accountControls.loginPending) this.accountControls.authenticatedAt = now; // the login's time is its commit's
    const times = newSessionTimes(now, options.absoluteTimeout, this.maxInactiveInterval, this.carriedTimes, {
      maxInactiveInterval: this.ownMaxInactiveInterval, principal: this.principal, authenticatedAt: this.account.authenticatedAt, ...this.accountControls.client,
    });
    const item = new NewItem(key, times, now, encoded, await toStored(encoded, this.runtime.codec), {
      store: options.store, codec: this.runtime.codec, metadataBytes: this.metadataBytes(key),
    });
    if (retired) {
      const settings = { ...this.runtime.codec, store: options.store, onConflict: options.onConflict, maxCommitRetries: options.maxCommitRetries, events, now: options.now };
      await moveSession(retired, item, settings, this.session!);
      this.retired = undefined;
      events.emit('destroyed', { key: retired.key });
      if (this.lease?.key === retired.key) this.lease = undefined; // deleted with its item
    } else {
      await item.create();
    }
    await this.deleteItems(this.staleKeys);
    if (!item.created) return { headers: this.runtime.transport.clear(this.request.secure) };
    this.baseline = createdBaseline(key, times, item.encoded, item.data);
    this.isNew = false;
    this.carriedTimes = undefined;
    this.forceTouch = false;
    this.maxInactiveIntervalChanged = false;
    this.principalChanged = false;
    recordSave(this.runtime.options, key, item.bytes, item.data, this.session!);
    events.emit('created', { key });
    return this.issueId();
  }

  private retireStoredItem(keepTimes: boolean): void {
    if (this.baseline) {
      const { key, version: loaded, unsettled, values, fingerprints, times } = this.baseline;
      const version = unsettled ? -1 : loaded; // a version no item has: the first delete is refused and the session re-read
      if (keepTimes) {
        const { expiresAt, absoluteExpiresAt } = times;
        this.retired = { key, version, expiresAt, absoluteExpiresAt, values: new Map(values), fingerprints: new Map(fingerprints) };
        this.carriedTimes = times;
      } else {
        this.staleKeys.push(key);
      }
    }
    if (!keepTimes) {
      // destroy() after regenerate(): the old item goes whatever its version.
      if (this.retired) this.staleKeys.push(this.retired.key);
      this.retired = undefined;
      this.carriedTimes = undefined;
      this.ownMaxInactiveInterval = undefined;
      this.principal = undefined;
      this.principalChanged = false;
    }
    this.baseline = undefined;
  }

  private async deleteItems(keys: string[]): Promise<void> {
    // A logout: a session a concurrent regenerate() or login() moved meanwhile is followed and ended too (or 409).
    await Promise.all(keys.map((key) => endSession(this.runtime.options.store, key, this.runtime.events)));
    for (const key of keys) {
      this.runtime.events.emit('destroyed', { key });
      if (this.lease?.key === key) this.lease = undefined; // deleted with its item
    }
    this.staleKeys = [];
  }

  /** Gives the lease back on every path the commit did not release it on (read-only, refused, failed). */
  private async releaseLease(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await releaseQuietly(this.runtime.options.store, lease, this.runtime.options.logger);
  }

  private issueId(): CommitResult {
    this.reissueId = false;
    return { headers: this.runtime.transport.issue(this.runtime.signer.sign(this.id), this.request.secure, this.ownMaxInactiveInterval) };
  }

  /** The item's bytes besides its data map, with the real key (and prefix) and principal lengths. */
  private metadataBytes(key: string): number {
    const { userAgent, ip } = this.accountControls.client;
    return metadataBytes(this.runtime.options.store.keyBytes(key), [this.principal, userAgent, ip]);
  }
}
