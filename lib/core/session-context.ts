import { decodeAttributes, encodeAttributes, toStored } from './attribute-codec';
import { jitteredDelay, sleep } from './backoff';
import { checkMaxInactiveInterval, checkPrincipal } from './controls';
import { conflictingAttributes, mergeConflicts, rejectConflict } from './conflicts';
import { advanceBaseline, applyMerged, Baseline, Delta, deltaAgainst, projectedSizes, sizesOf } from './delta';
import { SessionConflictError, SessionStoreError } from './errors';
import { hasExpired, idleDeadline, touchStep } from './expiry';
import { redacted } from './redact';
import { generateSessionId, storageKeyOf } from './ids';
import { metadataBytes } from './item-size';
import { measured } from './metrics';
import { HeldLease, readSession, releaseQuietly } from './lease';
import { matchesAny } from './patterns';
import { attributesOf, clearAttributes, createSessionObject, Session, SessionState } from './session';
import { hasContent, moveSession, NewItem, RetiredItem } from './session-move';
import { SIGNED_LENGTH } from './signer';
import { writeReason } from './write-reason';
import { Encoded, fingerprint } from './stored-value';
import type { StoredSession, StoredValue } from './session-store';
import type { CommitResult, RequestInfo, SessionRuntime } from './request-types';

export type { CommitResult, RequestInfo, SessionRuntime } from './request-types';

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

  constructor(
    private readonly runtime: SessionRuntime,
    readonly request: RequestInfo,
  ) {
    this.ignored = this.isIgnored();
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

  destroy(): void {
    this.controlsUsed = true;
    this.retireStoredItem(false);
    if (this.session) clearAttributes(this.session);
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
    this.principal = principal ?? undefined;
    this.principalChanged = true;
  }

  get maxInactiveInterval(): number {
    return this.ownMaxInactiveInterval ?? this.runtime.options.maxInactiveInterval;
  }

  private async loadOnce(): Promise<Session> {
    const { signer, transport, events, options } = this.runtime;
    const raw = transport.read(this.request.headers);
    const verified = raw ? signer.verify(raw) : undefined;
    if (raw && !verified) events.emit('invalid', { reason: raw.length === SIGNED_LENGTH ? 'bad-signature' : 'malformed' });
    if (verified) {
      const key = storageKeyOf(verified.id);
      let stored: StoredSession | undefined;
      try {
        const read = await readSession(options, key, { method: this.request.method, path: this.request.path, ignored: this.ignored || this.committed });
        stored = read.stored;
        this.lease = read.lease;
      } catch (error) {
        if (options.onStoreError === 'continue-without-session' && error instanceof SessionStoreError) {
          options.logger.warn(`session store unavailable, serving an unsaved session: ${error.message}`);
          this.detachedBy = error;
          return this.startFresh();
        }
        throw error;
      }
      if (stored && hasExpired(stored, options.now())) {
        events.emit('expired', { key });
        stored = undefined;
      }
      if (stored) {
        this.id = verified.id;
        this.isNew = false;
        this.reissueId = verified.signedWithOldSecret;
        try {
          return await this.adopt(key, stored);
        } catch (error) {
          // An item that cannot be decoded must not keep its lease: every later request would wait lockExpiration for it.
          await this.releaseLease();
          throw error;
        }
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
    const { options } = this.runtime;
    const { attributes, fingerprints, values } = await decodeAttributes(stored.data, this.runtime.codec);
    this.baseline = { key, version: stored.version, unsettled: stored.unsettled === true, times: stored, fingerprints, values };
    this.ownMaxInactiveInterval = stored.maxInactiveInterval;
    this.principal = stored.principal;
    if (options.logSessionContents) options.logger.debug(`session ${key} loaded`, redacted(attributes, options.redact));
    this.session = createSessionObject(this, attributes);
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
      return this.baseline ? await this.commitToStoredItem(this.baseline, encoded, now) : await this.commitNewItem(encoded, now);
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
      });
      if (outcome.status === 'stored') break;
      if (lockOwner !== undefined) this.lease = undefined; // gone or taken over: not ours to release any more
      if (outcome.status === 'gone') {
        if (touchOnly) return NOTHING; // nothing asked for was lost: the session ended, the next request starts a new one
        throw new SessionConflictError('The session was destroyed or expired by another request while this one ran; this change was not stored.');
      }
      if (lockOwner !== undefined) {
        throw new SessionConflictError(`This request held the session lock longer than lockExpiration (${options.lockExpiration} ms) and lost it; nothing was written.`);
      }
      await this.resolveConflict(base.key, delta, outcome.current, attempt);
      itemValues = new Map(Object.entries(outcome.current.data));
    }
    if (lockOwner !== undefined) this.lease = undefined;
    advanceBaseline(base, delta, expiresAt);
    this.forceTouch = false;
    this.maxInactiveIntervalChanged = false;
    this.principalChanged = false;
    this.recordSave(base.key, bytes, delta.set);
    events.emit('saved', { key: base.key, changed: [...delta.set.keys()], removed: delta.remove, touchOnly });
    // A persistent cookie follows the session's expiry; a browser-session cookie need not be re-sent.
    const persistent = options.cookie.maxAge !== undefined || this.ownMaxInactiveInterval !== undefined;
    return this.reissueId || persistent ? this.issueId() : NOTHING;
  }

  /**
   * Another request changed some attributes this one changed. 'reject' refuses
   * (nothing was written); a merge function decides each value, and the delta is
   * retried, guarded by what the item holds now.
   */
  private async resolveConflict(key: string, delta: Delta, current: StoredSession, attempt: number): Promise<void> {
    const { options, events } = this.runtime;
    const conflicting = conflictingAttributes(delta.expected ?? new Map(), current);
    events.emit('conflict', { key, attributes: conflicting });
    if (typeof options.onConflict !== 'function') throw rejectConflict(conflicting);
    if (attempt >= options.maxCommitRetries) {
      throw new SessionConflictError(`Gave up after ${attempt + 1} conflicting commits (maxCommitRetries ${options.maxCommitRetries}); nothing was written.`);
    }
    const session = this.session!;
    const merged = await mergeConflicts(options.onConflict, conflicting, current, (name) => session[name], this.runtime.codec);
    await applyMerged(delta, merged, session, this.runtime.codec);
    await sleep(jitteredDelay(attempt, 5, 200));
  }

  /** After a write: the item's size for metrics, and what was saved for logSessionContents. */
  private recordSave(key: string, itemBytes: number, written: ReadonlyMap<string, StoredValue>): void {
    const { metrics, logSessionContents, logger, redact } = this.runtime.options;
    metrics?.histogram('item_size_bytes', itemBytes);
    if (logSessionContents && written.size > 0) {
      const session = this.session!;
      logger.debug(`session ${key} saved`, redacted(Object.fromEntries([...written.keys()].map((n) => [n, session[n]])), redact));
    }
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
    const absoluteExpiresAt =
      this.carriedTimes?.absoluteExpiresAt ??
      (options.absoluteTimeout === undefined ? undefined : Math.floor(now / 1000) + options.absoluteTimeout);
    const times = {
      createdAt: this.carriedTimes?.createdAt ?? now,
      expiresAt: idleDeadline(now, this.maxInactiveInterval, absoluteExpiresAt),
      absoluteExpiresAt,
      maxInactiveInterval: this.ownMaxInactiveInterval,
      principal: this.principal,
    };
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
    this.baseline = {
      key,
      version: 1,
      times,
      fingerprints: new Map([...item.encoded].map(([name, value]) => [name, fingerprint(value)])),
      values: item.data,
    };
    this.isNew = false;
    this.carriedTimes = undefined;
    this.forceTouch = false;
    this.maxInactiveIntervalChanged = false;
    this.principalChanged = false;
    this.recordSave(key, item.bytes, item.data);
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
    await Promise.all(keys.map((key) => this.runtime.options.store.destroy(key)));
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
    return metadataBytes(this.runtime.options.store.keyBytes(key), this.principal);
  }

  private isIgnored(): boolean {
    const { ignoreUris, ignoreHeaders } = this.runtime.options;
    if (ignoreUris.length > 0 && matchesAny(ignoreUris, this.request.path)) return true;
    if (ignoreHeaders.length === 0) return false;
    return Object.keys(this.request.headers).some((name) => matchesAny(ignoreHeaders, name));
  }
}
