/**
 * The reference model of the model-based session tests: what a request is
 * allowed to do to a session, written as plainly as possible and knowing
 * nothing of the library's internals. It works on data-level views of the
 * stored item; the harness (model-harness.ts) compares them with the store.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Attribute name -> canonical JSON text of its value: equal values, equal text. */
export type Attrs = ReadonlyMap<string, string>;

/** JSON with object keys sorted at every depth, so it can compare values (dirty detection works the same way). */
export function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'undefined';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

export function attrsToString(attrs: Attrs): string {
  return `{${[...attrs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}:${v}`).join(',')}}`;
}

export function sameAttrs(a: Attrs, b: Attrs): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

export type Op =
  | { readonly kind: 'set'; readonly name: string; readonly value: JsonValue }
  | { readonly kind: 'delete'; readonly name: string }
  | { readonly kind: 'regenerate' }
  | { readonly kind: 'destroy' }
  | { readonly kind: 'touch' }
  | { readonly kind: 'setMaxInactiveInterval'; readonly seconds: number }
  | { readonly kind: 'setPrincipal'; readonly principal: string | null }
  | { readonly kind: 'login'; readonly user: string };

export function opToString(op: Op): string {
  switch (op.kind) {
    case 'set':
      return `${op.name}=${JSON.stringify(op.value).slice(0, 40)}`;
    case 'delete':
      return `delete ${op.name}`;
    case 'setMaxInactiveInterval':
      return `setMaxInactiveInterval(${op.seconds})`;
    case 'setPrincipal':
      return `setPrincipal(${JSON.stringify(op.principal)})`;
    case 'login':
      return `login(${JSON.stringify(op.user)})`;
    default:
      return `${op.kind}()`;
  }
}

export type ConflictPolicy = 'last-write-wins' | 'reject' | 'merge';

export interface ModelConfig {
  readonly onConflict: ConflictPolicy;
  readonly locking: boolean;
  readonly onStoreError: 'fail' | 'continue-without-session';
  /** Seconds. */
  readonly maxInactiveInterval: number;
  /** Seconds; the generators keep it at most half of maxInactiveInterval (see minExpiresAt). */
  readonly touchAfter: number;
  readonly absoluteTimeout: number | undefined;
  readonly compressThreshold: number;
  readonly compression: 'gzip' | 'brotli';
  /**
   * The simulated nodes (SessionManagers, and DynamoDbStores, sharing one store or table): each one's clock
   * skew in ms, added to the true time. A request is served by one node and judges expiry by its clock.
   */
  readonly skews: readonly number[];
}

/**
 * The merge function the specs configure as `onConflict`, and the model's
 * copy of it: keeps whichever value is present, or both as [theirs, mine].
 * Deterministic, so the model can predict it, and not symmetric, so a
 * library that swapped the arguments would show.
 */
export function mergeValues(_name: string, mine: unknown, theirs: unknown): unknown {
  if (mine === undefined) return theirs;
  if (theirs === undefined) return mine;
  return [theirs, mine];
}

/** What a session item holds, at the level the model predicts. */
export interface ItemState {
  readonly data: Attrs;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch s. */
  readonly absoluteExpiresAt: number | undefined;
  /** The session's own idle timeout (s), when it has one. */
  readonly maxInactiveInterval: number | undefined;
  readonly principal: string | undefined;
  /** Epoch ms of the session's last login(), when it has one. */
  readonly authenticatedAt: number | undefined;
}

/** The item behind a request's cookie during one command, with counts of the writes it received. */
export interface SimItem extends ItemState {
  readonly writes: number;
  /** Writes the library may or may not have made (a touch it decides on). */
  readonly maybeWrites: number;
}

/** What a handler's operations ask of the commit, worked out from the session it loaded. */
export interface Intent {
  /** The loaded stored item is still this session's: the commit updates it in place. */
  readonly inPlace: boolean;
  /** destroy() or regenerate() on a loaded stored item: it must be deleted. */
  readonly retireOld: boolean;
  /** regenerate(): creation time and absolute deadline move with the data. */
  readonly carried: { readonly createdAt: number; readonly absoluteExpiresAt: number | undefined } | undefined;
  readonly final: Attrs;
  readonly touch: boolean;
  readonly maxInactiveInterval: number | undefined;
  readonly maxInactiveIntervalChanged: boolean;
  readonly principal: string | undefined;
  readonly principalChanged: boolean;
  /** The login time the session ends up with: set by login(), carried by regenerate(), gone with destroy() or another user. */
  readonly authenticatedAt: number | undefined;
  /** It changed in place (a change of user without a login): the stored one must go. */
  readonly authChanged: boolean;
  /**
   * The handler asked for a change that needs the stored session (an attribute it
   * left changed, destroy, regenerate, principal or idle timeout): with onStoreError 'continue-without-session'
   * and a failed read, such a request must fail with 503.
   */
  readonly asksForChange: boolean;
}

export function intentOf(loaded: ItemState | undefined, ops: readonly Op[], now: number): Intent {
  const data = new Map(loaded?.data ?? []);
  let stored = loaded !== undefined;
  let retireOld = false;
  let carried: Intent['carried'];
  let touch = false;
  let maxInactiveInterval = loaded?.maxInactiveInterval;
  let maxInactiveIntervalChanged = false;
  let principal = loaded?.principal;
  let principalChanged = false;
  let authenticatedAt = loaded?.authenticatedAt;
  let authChanged = false;
  let asksForChange = false;
  const changePrincipal = (next: string | undefined): void => {
    // A login was of the user it named: another user, or none, has not logged in.
    if (next !== principal) {
      authenticatedAt = undefined;
      authChanged = true;
    }
    principal = next;
    principalChanged = true;
    asksForChange = true;
  };
  const regenerate = (): void => {
    asksForChange = true;
    if (stored) {
      retireOld = true;
      carried = { createdAt: loaded!.createdAt, absoluteExpiresAt: loaded!.absoluteExpiresAt };
      stored = false;
    }
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'set':
        data.set(op.name, canonical(op.value));
        break;
      case 'delete':
        data.delete(op.name);
        break;
      case 'touch':
        touch = true;
        break;
      case 'setMaxInactiveInterval':
        maxInactiveInterval = op.seconds;
        maxInactiveIntervalChanged = true;
        asksForChange = true;
        break;
      case 'setPrincipal':
        changePrincipal(op.principal ?? undefined);
        break;
      case 'regenerate':
        regenerate();
        break;
      case 'login':
        // A new id, the user, and the time of the login: regenerate() + setPrincipal() + authenticatedAt.
        regenerate();
        changePrincipal(op.user);
        authenticatedAt = now;
        authChanged = true;
        break;
      case 'destroy':
        asksForChange = true;
        if (stored) retireOld = true;
        stored = false;
        // A destroyed session keeps nothing: not its data, times, idle timeout or principal.
        data.clear();
        carried = undefined;
        maxInactiveInterval = undefined;
        principal = undefined;
        principalChanged = false;
        authenticatedAt = undefined;
        authChanged = false;
        break;
    }
  }
  return {
    inPlace: stored, retireOld, carried, final: data, touch, maxInactiveInterval, maxInactiveIntervalChanged,
    principal, principalChanged, authenticatedAt, authChanged,
    // An attribute set and deleted again leaves no trace a plain-object session could see: only what remains counts.
    asksForChange: asksForChange || dirtyNames(loaded?.data ?? new Map<string, string>(), data).length > 0,
  };
}

/** How an item's expiresAt may have moved in a command. */
export type Expiry =
  /** Not written: as before. */
  | 'same'
  /** Written: the idle deadline of the request's time, capped by the absolute one. */
  | 'exact'
  /** The library decides (touch throttling): as before or written, and never below minExpiresAt. */
  | 'maybe';

export interface ItemExpect extends ItemState {
  readonly expiry: Expiry;
}

/** What the response does to the browser's cookie. */
export type CookieExpect = 'new' | 'cleared' | 'keep' | 'none';

export interface CommitOutcome {
  readonly status: 200 | 409;
  /** The commit wrote (or deleted) the item it loaded: answered 2xx, that is an acknowledged write of it. */
  readonly wroteK0: boolean;
  readonly cookie: CookieExpect;
  /** The new item (under a new id) the response's cookie names. */
  readonly created: ItemExpect | undefined;
  /** The item the request loaded, after the commit (undefined: absent). */
  readonly k0: SimItem | undefined;
  readonly k0Expiry: Expiry;
  readonly note: string;
}

/** Epoch s: the idle deadline of a write at `now`, capped by the absolute deadline. */
export function idleDeadline(cfg: ModelConfig, now: number, ownInterval: number | undefined, absolute: number | undefined): number {
  return Math.min(Math.floor(now / 1000) + (ownInterval ?? cfg.maxInactiveInterval), absolute ?? Infinity);
}

/**
 * Epoch s: the earliest expiry allowed after a successful request at `now`.
 * The library promises that an active user is never logged out: touch
 * throttling may not let the remaining lifetime fall below half the
 * session's own idle timeout (with the generators' touchAfter <= interval / 2,
 * a correct throttle never does, whatever the session's own interval).
 */
export function minExpiresAt(cfg: ModelConfig, now: number, ownInterval: number | undefined, absolute: number | undefined): number {
  const interval = ownInterval ?? cfg.maxInactiveInterval;
  // Near the absolute deadline a touch would move the expiry by less than the throttle step, so the
  // library may skip it: the session may then end up to half an interval before its absolute deadline.
  return Math.min(Math.floor(now / 1000) + Math.ceil(interval / 2), (absolute ?? Infinity) - Math.floor(interval / 2));
}

export function freshAbsolute(cfg: ModelConfig, now: number): number | undefined {
  return cfg.absoluteTimeout === undefined ? undefined : Math.floor(now / 1000) + cfg.absoluteTimeout;
}

/** Attributes the handler changed relative to what it loaded (set, changed or removed). */
function dirtyNames(loaded: Attrs, final: Attrs): string[] {
  const names = new Set([...loaded.keys(), ...final.keys()]);
  return [...names].filter((n) => loaded.get(n) !== final.get(n)).sort();
}

/** Applies the request's changes onto what the item holds now, resolving conflicts as the policy says (undefined: 'reject' refuses). */
function applyDelta(cfg: ModelConfig, current: Attrs, loaded: Attrs, final: Attrs, guarded: boolean): { data: Map<string, string>; conflicts: string[] } {
  const dirty = dirtyNames(loaded, final);
  const conflicts = guarded ? dirty.filter((n) => current.get(n) !== loaded.get(n)) : [];
  const data = new Map(current);
  for (const name of dirty) {
    let value: string | undefined = final.get(name);
    if (conflicts.includes(name) && cfg.onConflict === 'merge') {
      const mine = value === undefined ? undefined : (JSON.parse(value) as unknown);
      const theirsText = current.get(name);
      const theirs = theirsText === undefined ? undefined : (JSON.parse(theirsText) as unknown);
      const merged = mergeValues(name, mine, theirs);
      value = merged === undefined ? undefined : canonical(merged);
    }
    if (value === undefined) data.delete(name);
    else data.set(name, value);
  }
  return { data, conflicts };
}

/**
 * Every outcome the commit of one request may have, given the item it
 * loaded (`loaded`, undefined: a fresh session) and the item as it is when
 * the commit runs (`current`: another request may have written, moved or
 * destroyed it since). A store failure (503) is handled by the harness.
 */
export function commitOutcomes(cfg: ModelConfig, current: SimItem | undefined, loaded: SimItem | undefined, intent: Intent, now: number): CommitOutcome[] {
  const unchanged = (note: string, status: 200 | 409 = 200, cookie: CookieExpect = status === 200 ? 'keep' : 'none'): CommitOutcome =>
    ({ status, cookie, created: undefined, k0: current, k0Expiry: 'same', note, wroteK0: false });

  // A session is stored only when it holds something: attributes, a principal or its own idle timeout (no saveUninitialized).
  const hasContent = (data: Attrs): boolean => data.size > 0 || intent.principal !== undefined || intent.maxInactiveInterval !== undefined;

  if (!loaded) {
    if (!hasContent(intent.final)) return [{ ...unchanged('fresh session stayed empty'), cookie: 'none' }];
    return [{
      status: 200, cookie: 'new', k0: current, k0Expiry: 'same', note: 'fresh session stored', wroteK0: false,
      created: {
        data: intent.final, createdAt: now, absoluteExpiresAt: freshAbsolute(cfg, now),
        maxInactiveInterval: intent.maxInactiveInterval, principal: intent.principal, authenticatedAt: intent.authenticatedAt, expiry: 'exact',
      },
    }];
  }

  // Guards per attribute, unless last-write-wins, and never needed under a lease.
  const guarded = cfg.onConflict !== 'last-write-wins' && !cfg.locking;
  const dirty = dirtyNames(loaded.data, intent.final);

  if (intent.inPlace) {
    const metaChange = intent.touch || intent.maxInactiveIntervalChanged || intent.principalChanged;
    if (!current) {
      // Ended (destroyed, moved or expired) meanwhile: a change is refused (a write never resurrects), a read or touch is fine.
      const asked = dirty.length > 0 || intent.maxInactiveIntervalChanged || intent.principalChanged;
      return asked ? [unchanged('change to a session that ended meanwhile', 409)] : [unchanged('read of a session that ended meanwhile')];
    }
    if (dirty.length === 0 && !metaChange) {
      return [{ ...unchanged('read-only: the library may touch'), k0: { ...current, maybeWrites: current.maybeWrites + 1 }, k0Expiry: 'maybe' }];
    }
    const { data, conflicts } = applyDelta(cfg, current.data, loaded.data, intent.final, guarded);
    if (conflicts.length > 0 && cfg.onConflict === 'reject') return [unchanged(`'reject' conflict on ${conflicts.join(',')}`, 409)];
    return [{
      status: 200, cookie: 'keep', created: undefined, k0Expiry: 'exact', note: 'delta written', wroteK0: true,
      k0: {
        ...current, data, writes: current.writes + 1,
        maxInactiveInterval: intent.maxInactiveIntervalChanged ? intent.maxInactiveInterval : current.maxInactiveInterval,
        principal: intent.principalChanged ? intent.principal : current.principal,
        authenticatedAt: intent.authChanged ? intent.authenticatedAt : current.authenticatedAt,
      },
    }];
  }

  if (!intent.retireOld) throw new Error('model: a loaded session is either updated in place or retired');

  const moved = (data: Attrs, note: string, times: Intent['carried'] & object): CommitOutcome =>
    !hasContent(data)
      ? { status: 200, cookie: 'cleared', created: undefined, k0: undefined, k0Expiry: 'same', note: `${note}; nothing left to store`, wroteK0: true }
      : {
          status: 200, cookie: 'new', k0: undefined, k0Expiry: 'same', note, wroteK0: true,
          created: {
            data, createdAt: times.createdAt, absoluteExpiresAt: times.absoluteExpiresAt,
            maxInactiveInterval: intent.maxInactiveInterval, principal: intent.principal, authenticatedAt: intent.authenticatedAt, expiry: 'exact',
          },
        };

  if (!intent.carried) {
    // destroy(): the old item goes whatever happened to it; what was set afterwards is a brand-new session.
    return [moved(intent.final, 'destroyed', { createdAt: now, absoluteExpiresAt: freshAbsolute(cfg, now) })];
  }

  // regenerate(): the data moves to a new id; a write acknowledged meanwhile must move with it.
  const carried = intent.carried;
  if (!current) {
    // Destroyed or moved by another request, or expired, since the load: carrying the loaded data
    // would resurrect an ended session. Refuse, or keep only what this request wrote.
    const ownWrites = new Map(dirty.filter((n) => intent.final.has(n)).map((n) => [n, intent.final.get(n)!]));
    return [
      unchanged('regenerate of a session that ended (destroyed, moved or expired) since the load', 409),
      moved(ownWrites, 'regenerated without the ended session\'s data', carried),
    ];
  }
  const changed = current.writes > loaded.writes ? 'yes' : current.maybeWrites > loaded.maybeWrites ? 'maybe' : 'no';
  if (changed === 'no') return [moved(intent.final, 'regenerated', carried)];
  const { data, conflicts } = applyDelta(cfg, current.data, loaded.data, intent.final, guarded);
  const carriedOutcomes = [moved(data, 'regenerated with the concurrent write carried', carried)];
  if (!hasContent(data)) {
    // A concurrent delete carried to an already written new item may leave it empty rather than remove it:
    // an empty session is harmless, as one emptied in place is.
    carriedOutcomes.push({
      status: 200, cookie: 'new', k0: undefined, k0Expiry: 'same', note: 'regenerated; the carried deletes left the new session empty', wroteK0: true,
      created: {
        data, createdAt: carried.createdAt, absoluteExpiresAt: carried.absoluteExpiresAt, maxInactiveInterval: intent.maxInactiveInterval,
        principal: intent.principal, authenticatedAt: intent.authenticatedAt, expiry: 'exact',
      },
    });
  }
  if (cfg.onConflict === 'reject') {
    // Whether a concurrent write that touched other attributes is carried or refused is the library's call.
    const refused = unchanged('regenerate refused: the session changed since the load', 409);
    return conflicts.length > 0 ? [refused] : [refused, ...carriedOutcomes];
  }
  return carriedOutcomes;
}

// ---------------------------------------------------------------- concrete states and late writes

/** An item as the model predicts it exactly, its idle deadline included (epoch s). */
export interface Concrete extends SimItem {
  readonly expiresAt: number;
}

/** The idle deadline a write at `at` (epoch ms) gives an item. */
export function writtenExpiry(cfg: ModelConfig, at: number, item: ItemState): number {
  return idleDeadline(cfg, at, item.maxInactiveInterval, item.absoluteExpiresAt);
}

/**
 * The exact items an outcome's k0 may be, given the item the commit found (whose expiry an unwritten
 * item keeps) and the request's time on its node: a touch the library decides on is either.
 */
export function materialize(cfg: ModelConfig, k0: SimItem | undefined, expiry: Expiry, base: number | undefined, at: number): Array<Concrete | undefined> {
  if (!k0) return [undefined];
  const written = writtenExpiry(cfg, at, k0);
  const kept = base ?? written;
  const expiries = expiry === 'same' ? [kept] : expiry === 'exact' ? [written] : [...new Set([kept, written])];
  return expiries.map((expiresAt) => ({ ...k0, expiresAt }));
}

/**
 * What a request's writes do to its session's item when DynamoDB applies them late (the answer was
 * lost): the same conditional writes, judged against the item as it is when they land.
 */
export interface LateChange {
  /** The item the request loaded: its delta and guards are relative to it. */
  readonly loaded: ItemState;
  readonly intent: Intent;
  /** The request's time at its commit, on its node (epoch ms): its writes' expiry, and their guard `expiresAt > now`. */
  readonly at: number;
}

/** Attributes an item pair differs in that `to` sets (present in `to`, other than in `from`). */
function setNames(from: ItemState, to: ItemState): string[] {
  return [...to.data.keys()].filter((n) => from.data.get(n) !== to.data.get(n)).sort();
}

function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((all, item) => [...all, ...all.map((s) => [...s, item])], [[]]);
}

/** `to` with the values of `names` taken back to what `from` has. */
function withValuesOf(to: Concrete, from: ItemState, names: readonly string[]): Concrete {
  const data = new Map(to.data);
  for (const name of names) {
    const value = from.data.get(name);
    if (value === undefined) data.delete(name);
    else data.set(name, value);
  }
  return { ...to, data };
}

/**
 * In the split layout a commit writes the head (inline attributes, deletes, metadata, the claims), then
 * each large attribute's part: a commit that failed part way, or whose writes land late one by one,
 * leaves the head's changes with any subset of the attributes it set (a part that did not land reads as
 * the value from before). Every such state between `from` and `to` (both included).
 */
export function partialCommits(layout: 'single' | 'split', from: Concrete, to: Concrete): Concrete[] {
  if (layout === 'single') return [from, to];
  const sets = setNames(from, to);
  const states: Concrete[] = [from];
  for (const names of subsets(sets)) {
    // The head landed, the parts of `names` did not.
    states.push(withValuesOf(to, from, names));
    // Only the parts of `names` landed (a head record put back after its part write was given up): values, nothing else.
    if (names.length > 0) states.push({ ...withValuesOf(from, to, names), writes: to.writes });
  }
  return states;
}

/**
 * The items `item` may become when a late write of `change` lands on it (the item itself included: a
 * write refused by its condition). An update needs the item (it never recreates a deleted one) and a
 * deadline after the request's time; the per-attribute guards of 'reject' and merge compare with what the
 * request loaded; a delete of the old item (destroy, regenerate) may land.
 */
export function applyLate(cfg: ModelConfig, layout: 'single' | 'split', change: LateChange, item: Concrete | undefined): Array<Concrete | undefined> {
  const results: Array<Concrete | undefined> = [item];
  if (!item) return results;
  const { intent, loaded, at } = change;
  if (intent.retireOld) return [...results, undefined];
  if (!intent.inPlace || item.expiresAt <= Math.floor(at / 1000)) return results;
  const dirty = dirtyNames(loaded.data, intent.final);
  const metaChange = intent.touch || intent.maxInactiveIntervalChanged || intent.principalChanged;
  if (dirty.length === 0 && !metaChange) {
    // A read-only request's touch (the library may have written one).
    return [...results, { ...item, writes: item.writes + 1, expiresAt: writtenExpiry(cfg, at, item) }];
  }
  const guarded = cfg.onConflict !== 'last-write-wins' && !cfg.locking;
  const conflicts = (n: string): boolean => item.data.get(n) !== loaded.data.get(n);
  // One item carries all the guards in the single layout. In the split layout each part write is guarded on its own
  // attribute (and the head write on the inline ones): the attributes another request changed since stay as they are,
  // the others may land (partialCommits also gives every subset of them).
  if (guarded && layout === 'single' && dirty.some(conflicts)) return results;
  const landing = guarded ? dirty.filter((n) => !conflicts(n)) : dirty;
  const data = new Map(item.data);
  for (const name of landing) {
    const value = intent.final.get(name);
    if (value === undefined) data.delete(name);
    else data.set(name, value);
  }
  const next: ItemState = {
    ...item, data,
    maxInactiveInterval: intent.maxInactiveIntervalChanged ? intent.maxInactiveInterval : item.maxInactiveInterval,
    principal: intent.principalChanged ? intent.principal : item.principal,
    authenticatedAt: intent.authChanged ? intent.authenticatedAt : item.authenticatedAt,
  };
  const full: Concrete = { ...item, ...next, writes: item.writes + 1, expiresAt: writtenExpiry(cfg, at, next) };
  return [...results, ...partialCommits(layout, item, full)];
}

/** A stable text of a concrete item, to drop duplicate states. */
export function concreteKey(item: Concrete | undefined): string {
  if (!item) return 'absent';
  return [attrsToString(item.data), item.expiresAt, item.absoluteExpiresAt, item.maxInactiveInterval, item.principal, item.authenticatedAt, item.createdAt, item.writes].join('|');
}
