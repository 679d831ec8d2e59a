import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CodecSettings, decodeAttributes, encodeAttributes, toStored } from './attribute-codec';
import { jitteredDelay, sleep } from './backoff';
import { conflictingAttributes, mergeConflicts, rejectConflict } from './conflicts';
import { SessionConflictError, SessionStoreError, SessionStoreUnavailableError } from './errors';
import { hasExpired, idleDeadline, touchStep } from './expiry';
import { redacted } from './redact';
import type { SessionEvents } from './events';
import type { HeaderList, IdTransport, RequestHeaders } from './id-transport';
import { generateSessionId, storageKeyOf } from './ids';
import { assertItemFits, MAX_PRINCIPAL_BYTES, metadataBytes } from './item-size';
import { acquireLease } from './lease';
import type { ResolvedSessionOptions } from './options';
import { matchesAny } from './patterns';
import type { Serializer } from './serializer';
import { attributesOf, clearAttributes, createSessionObject, Session, SessionState } from './session';
import { RetiredItem, retireOldItem } from './session-move';
import { IdSigner, SIGNED_LENGTH } from './signer';
import { Encoded, fingerprint, storedSize, toStoredValue } from './stored-value';
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
  /** The item's version as loaded: regenerate() moves the session only if nobody wrote since. */
  version: number;
  times: Pick<StoredSession, 'createdAt' | 'expiresAt' | 'absoluteExpiresAt' | 'maxInactiveInterval'>;
  /** Per attribute: the fingerprint of its encoding (dirty detection) and its stored value (guards, sizes). */
  readonly fingerprints: Map<string, string>;
  readonly values: Map<string, StoredValue>;
}

/** A delta on its way to the store. */
interface Delta {
  set: Map<string, StoredValue>;
  remove: string[];
  /** Encodings of `set`, for the next baseline. */
  encoded: Map<string, Encoded>;
  expected: Map<string, StoredValue | null> | undefined;
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
  /** Items left behind by destroy(), deleted at commit. */
  private staleKeys: string[] = [];
  /** The item regenerate() moves away from, deleted at commit only at the version this request saw. */
  private retired: RetiredItem | undefined;
  /** Changes asked for besides attributes; under 'continue-without-session' they cannot be made. */
  private controlsUsed = false;
  /** regenerate() keeps the creation time and absolute deadline of the session it replaces. */
  private carriedTimes: Pick<StoredSession, 'createdAt' | 'absoluteExpiresAt' | 'maxInactiveInterval'> | undefined;
  /** This session's own idle timeout, set by setMaxInactiveInterval() or loaded with it. */
  private ownMaxInactiveInterval: number | undefined;
  private maxInactiveIntervalChanged = false;
  principal: string | undefined;
  private principalChanged = false;
  /** The lease this request holds under locking, until a commit releases it. */
  private lease: { key: string; owner: string } | undefined;
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

  private get codec(): CodecSettings {
    const { options, serializer } = this.runtime;
    return {
      serializer, maxSessionBytes: options.maxSessionBytes, compressThreshold: options.compressThreshold,
      compression: options.compression, attributeFilter: options.attributeFilter, logger: options.logger,
    };
  }

  /** The session, loaded on the first call; later calls return the same promise. */
  load(): Promise<Session> {
    if (!this.loading) {
      this.loading = this.measured('load', () => this.loadOnce());
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
    const next = this.commitChain.then(() => this.measured('commit', () => this.commitOnce()));
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
    if (!Number.isInteger(seconds) || seconds <= 0) {
      throw new RangeError(`setMaxInactiveInterval needs a positive whole number of seconds, got ${seconds}`);
    }
    const period = this.runtime.options.store.requiredMaxInactiveInterval;
    if (period !== undefined && seconds > period) {
      throw new RangeError(
        `setMaxInactiveInterval(${seconds}) is longer than the table rotation period (${period} s): ` +
          'rotated tables are dropped after two periods, so the session would vanish before its idle timeout. Use expiry: \'ttl\' for longer sessions.',
      );
    }
    this.controlsUsed = true;
    this.ownMaxInactiveInterval = seconds;
    this.maxInactiveIntervalChanged = true;
  }

  setPrincipal(principal: string | null): void {
    if (principal !== null && (typeof principal !== 'string' || principal === '')) {
      throw new TypeError('setPrincipal needs a non-empty string (a user id), or null');
    }
    if (principal !== null && Buffer.byteLength(principal, 'utf8') > MAX_PRINCIPAL_BYTES) {
      throw new RangeError(`setPrincipal needs a user id of at most ${MAX_PRINCIPAL_BYTES} bytes; store a short stable id, not a profile`);
    }
    this.controlsUsed = true;
    this.principal = principal ?? undefined;
    this.principalChanged = true;
  }

  get maxInactiveInterval(): number {
    return this.ownMaxInactiveInterval ?? this.runtime.options.maxInactiveInterval;
  }

  /** Times a phase and counts store failures, when metrics are configured. */
  private async measured<T>(phase: 'load' | 'commit', run: () => Promise<T>): Promise<T> {
    const metrics = this.runtime.options.metrics;
    if (!metrics) return run();
    const started = performance.now();
    try {
      return await run();
    } catch (error) {
      if (error instanceof SessionStoreError) metrics.increment(error instanceof SessionStoreUnavailableError && error.throttled ? 'throttle' : 'store_error');
      throw error;
    } finally {
      metrics.timing(phase, performance.now() - started);
    }
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
        stored = await this.read(key);
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

  /** One GetItem, or, when this request locks, one UpdateItem that takes the lease and returns the item. */
  private async read(key: string): Promise<StoredSession | undefined> {
    const { options } = this.runtime;
    const pattern = options.lockPattern;
    if (this.ignored || pattern === undefined || !pattern.test(`${this.request.method} ${this.request.path}`)) {
      return options.store.get(key);
    }
    const owner = randomBytes(12).toString('base64url');
    const stored = await acquireLease(options.store, key, owner, options, () => {
      options.metrics?.increment('lock_wait');
      options.logger.debug(`waiting for the lock of session ${key}`);
    });
    if (stored) this.lease = { key, owner };
    return stored;
  }

  private startFresh(): Session {
    this.id = generateSessionId();
    this.isNew = true;
    this.session = createSessionObject(this, {});
    return this.session;
  }

  private async adopt(key: string, stored: StoredSession): Promise<Session> {
    const { options } = this.runtime;
    const { attributes, fingerprints, values } = await decodeAttributes(stored.data, this.codec);
    this.baseline = { key, version: stored.version, times: stored, fingerprints, values };
    this.ownMaxInactiveInterval = stored.maxInactiveInterval;
    this.principal = stored.principal;
    if (options.logSessionContents) options.logger.debug(`session ${key} loaded`, redacted(attributes, options.redact));
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
    if (!this.session) return NOTHING;
    if (this.detachedBy) {
      // Reads may go on without the store; a change the handler asked for cannot (a logout that
      // answered 2xx while the session stayed valid would be the worst case), so it fails with the load's error.
      if (this.controlsUsed || attributesOf(this.session).length > 0) throw this.detachedBy;
      return NOTHING;
    }
    try {
      const now = this.runtime.options.now();
      const encoded = encodeAttributes(this.session, this.codec);
      return this.baseline ? await this.commitToStoredItem(this.baseline, encoded, now) : await this.commitNewItem(encoded, now);
    } finally {
      await this.releaseLease();
    }
  }

  private async commitToStoredItem(base: Baseline, encoded: Map<string, Encoded>, now: number): Promise<CommitResult> {
    const { options, events } = this.runtime;
    const delta = await this.deltaAgainst(base, encoded);
    const expiresAt = idleDeadline(now, this.maxInactiveInterval, base.times.absoluteExpiresAt);
    const touchOnly = delta.set.size === 0 && delta.remove.length === 0;
    const intervalChanged = this.maxInactiveIntervalChanged;
    const principalChanged = this.principalChanged;
    const touchDue = expiresAt - base.times.expiresAt >= touchStep(options.touchAfter, this.maxInactiveInterval);
    if (touchOnly && !this.forceTouch && !intervalChanged && !principalChanged && !touchDue) {
      return this.reissueId ? this.issueId() : NOTHING;
    }
    const lockOwner = this.lease?.owner;
    // What the item holds before our delta: as loaded, or as read back from a conflict.
    let itemValues: ReadonlyMap<string, StoredValue> = base.values;
    let bytes: number;
    for (let attempt = 0; ; attempt++) {
      bytes = assertItemFits(projectedSizes(itemValues, delta), this.metadataBytes(base.key));
      const outcome = await options.store.update(base.key, {
        set: delta.set, remove: delta.remove, lastAccessedAt: now, expiresAt, now,
        ...(delta.expected && { expected: delta.expected }),
        ...(lockOwner !== undefined && { lockOwner }),
        ...(intervalChanged && { maxInactiveInterval: this.maxInactiveInterval }),
        ...(principalChanged && { principal: this.principal ?? null }),
      });
      if (outcome.status === 'stored') break;
      if (lockOwner !== undefined) this.lease = undefined; // gone or taken over: not ours to release any more
      if (outcome.status === 'gone') {
        if (touchOnly) return NOTHING; // nothing was lost: the session ended, the next request starts a new one
        throw new SessionConflictError('The session was destroyed or expired by another request while this one ran; this change was not stored.');
      }
      if (lockOwner !== undefined) {
        throw new SessionConflictError(`This request held the session lock longer than lockExpiration (${options.lockExpiration} ms) and lost it; nothing was written.`);
      }
      await this.resolveConflict(base.key, delta, outcome.current, attempt);
      itemValues = new Map(Object.entries(outcome.current.data));
    }
    if (lockOwner !== undefined) this.lease = undefined;
    this.advanceBaseline(base, delta, expiresAt);
    this.recordSave(base.key, bytes, delta.set);
    events.emit('saved', { key: base.key, changed: [...delta.set.keys()], removed: delta.remove, touchOnly });
    // A persistent cookie follows the session's expiry; a browser-session cookie need not be re-sent.
    const persistent = options.cookie.maxAge !== undefined || this.ownMaxInactiveInterval !== undefined;
    return this.reissueId || persistent ? this.issueId() : NOTHING;
  }

  /** Only what changed; guarded by the loaded values when conflicts are not last-write-wins. */
  private async deltaAgainst(base: Baseline, encoded: Map<string, Encoded>): Promise<Delta> {
    const changed = [...encoded].filter(([name, value]) => base.fingerprints.get(name) !== fingerprint(value));
    const remove = [...base.values.keys()].filter((name) => !encoded.has(name));
    const guarded = this.runtime.options.onConflict !== 'last-write-wins' && this.lease === undefined;
    const expected = guarded
      ? new Map<string, StoredValue | null>([...changed.map(([n]) => n), ...remove].map((n) => [n, base.values.get(n) ?? null]))
      : undefined;
    return { set: await toStored(changed, this.codec), remove, encoded: new Map(changed), expected };
  }

  /**
   * Another request changed some attributes this one changed. 'reject' refuses
   * (nothing was written); a merge function decides each value, and the delta is
   * retried, guarded by what the item holds now.
   */
  private async resolveConflict(key: string, delta: Delta, current: StoredSession, attempt: number): Promise<void> {
    const { options, events, serializer } = this.runtime;
    const conflicting = conflictingAttributes(delta.expected ?? new Map(), current);
    events.emit('conflict', { key, attributes: conflicting });
    if (typeof options.onConflict !== 'function') throw rejectConflict(conflicting);
    if (attempt >= options.maxCommitRetries) {
      throw new SessionConflictError(`Gave up after ${attempt + 1} conflicting commits (maxCommitRetries ${options.maxCommitRetries}); nothing was written.`);
    }
    const session = this.session!;
    const merged = await mergeConflicts(options.onConflict, conflicting, current, (name) => session[name], this.codec);
    for (const { name, value, theirs } of merged) {
      delta.expected!.set(name, theirs);
      delta.set.delete(name);
      delta.encoded.delete(name);
      delta.remove = delta.remove.filter((n) => n !== name);
      if (value === undefined) {
        delete session[name];
        if (theirs !== null) delta.remove.push(name);
      } else {
        session[name] = value;
        const encoded = serializer.encode(value, name);
        delta.set.set(name, await toStoredValue(encoded, options.compressThreshold, options.compression));
        delta.encoded.set(name, encoded);
      }
    }
    await sleep(jitteredDelay(attempt, 5, 200));
  }

  private advanceBaseline(base: Baseline, delta: Delta, expiresAt: number): void {
    for (const [name, value] of delta.set) base.values.set(name, value);
    for (const [name, value] of delta.encoded) base.fingerprints.set(name, fingerprint(value));
    for (const name of delta.remove) {
      base.values.delete(name);
      base.fingerprints.delete(name);
    }
    base.times = { ...base.times, expiresAt };
    base.version++;
    this.forceTouch = false;
    this.maxInactiveIntervalChanged = false;
    this.principalChanged = false;
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
    if (encoded.size === 0 && retired === undefined) {
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
    const item = { key, times, now, encoded, data: await toStored(encoded, this.codec), created: false, bytes: 0 };
    const write = async (): Promise<void> => {
      if (item.encoded.size === 0) return;
      item.bytes = assertItemFits(new Map([...item.data].map(([name, value]) => [name, storedSize(value)])), this.metadataBytes(key));
      if (!item.created) {
        await options.store.create(key, { ...times, lastAccessedAt: now, data: Object.fromEntries(item.data) });
        item.created = true;
      }
    };
    await write();
    // Only now that the new item exists: a failed create, or a refused move, leaves the old session intact.
    if (retired) await this.moveFrom(retired, item, write);
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

  /**
   * regenerate(): deletes the old item at the version this request loaded,
   * carrying into the new one whatever another request stored meanwhile.
   */
  private async moveFrom(
    retired: RetiredItem,
    item: { key: string; now: number; times: { expiresAt: number }; encoded: Map<string, Encoded>; data: Map<string, StoredValue>; created: boolean },
    create: () => Promise<void>,
  ): Promise<void> {
    const { options, events } = this.runtime;
    const session = this.session!;
    try {
      await retireOldItem(retired, { ...this.codec, store: options.store, onConflict: options.onConflict, maxCommitRetries: options.maxCommitRetries, events, now: options.now }, {
        mine: (name) => session[name],
        changedByMe: (name, theirs) => {
          const mine = item.encoded.get(name);
          return (mine === undefined ? undefined : fingerprint(mine)) !== theirs;
        },
        carry: async (values) => {
          const set = new Map<string, Encoded>();
          const remove: string[] = [];
          for (const [name, value] of values) {
            if (value === undefined) {
              delete session[name];
              if (item.encoded.delete(name)) remove.push(name);
              item.data.delete(name);
            } else {
              session[name] = value;
              set.set(name, this.runtime.serializer.encode(value, name));
            }
          }
          const stored = await toStored(set, this.codec);
          for (const [name, value] of set) item.encoded.set(name, value);
          for (const [name, value] of stored) item.data.set(name, value);
          if (!item.created) return create();
          assertItemFits(new Map([...item.data].map(([name, value]) => [name, storedSize(value)])), this.metadataBytes(item.key));
          const outcome = await options.store.update(item.key, { set: stored, remove, lastAccessedAt: item.now, expiresAt: item.times.expiresAt, now: item.now });
          if (outcome.status !== 'stored') throw new SessionConflictError('The new session was removed while this request regenerated it; nothing was stored.');
        },
      });
    } catch (error) {
      // The old session stays as it was; the half-made new one must not linger under an id nobody will get.
      if (item.created) await options.store.destroy(item.key).catch(() => undefined);
      throw error;
    }
    this.retired = undefined;
    events.emit('destroyed', { key: retired.key });
    if (this.lease?.key === retired.key) this.lease = undefined; // deleted with its item
  }

  private retireStoredItem(keepTimes: boolean): void {
    if (this.baseline) {
      const { key, version, values, fingerprints, times } = this.baseline;
      if (keepTimes) {
        this.retired = { key, version, values: new Map(values), fingerprints: new Map(fingerprints) };
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
    if (!lease) return;
    this.lease = undefined;
    try {
      await this.runtime.options.store.release(lease.key, lease.owner);
    } catch (error) {
      this.runtime.options.logger.warn(`could not release a session lock; it expires after lockExpiration: ${(error as Error).message}`);
    }
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

/** Attribute sizes of the item once the delta is applied. */
function projectedSizes(values: ReadonlyMap<string, StoredValue>, delta: Delta): Map<string, number> {
  const sizes = new Map([...values].map(([name, value]) => [name, storedSize(value)]));
  for (const [name, value] of delta.set) sizes.set(name, storedSize(value));
  for (const name of delta.remove) sizes.delete(name);
  return sizes;
}
