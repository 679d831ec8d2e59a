import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SessionStoreUnavailableError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { DestroyOutcome, NewSession, sameStoredValue, SessionUpdate, StoredSession, StoredValue, UpdateOutcome } from '../../core/session-store';
import { conditionalWrite, releaseLease, WriteResult } from './conditional-write';
import { ATTR } from './item-attributes';
import { reflectsMetadata, setMetadataChanges, setNewSessionFields, toStoredSession } from './item-codec';
import { deleteItems } from './principal-sessions';
import { deleteIn } from './session-deletes';
import { assemble, contentHash, isPart, partExpiresAt, partKeyOf, partsByKey, pendingClaims, registryOf } from './split-items';
import { PartWrite, SplitParts } from './split-parts';
import { SplitReads } from './split-reads';
import { isConditionFailure } from './store-errors';
import type { Item, StoreIo } from './store-io';
import { UpdateExpressionBuilder } from './update-expression';

export interface SplitSettings {
  readonly table: string;
  readonly partThreshold: number;
  readonly eventualConsistency: boolean;
  readonly logger: Logger;
  /** The store's clock (epoch ms): when a part was claimed, so readers know when to fence it. */
  readonly now: () => number;
}

/** A session from a read, marked when a part write it does not show may still land (StoredSession.unsettled). */
function unsettledIf(read: { items: Item[]; inFlight: boolean }): StoredSession | undefined {
  const session = assemble(read.items);
  return session && read.inFlight ? { ...session, unsettled: true } : session;
}

/** How long a plain load waits for a part write in flight: such writes take milliseconds, a slower one is about to fail. */
const LOAD_PATIENCE_MS = 250;

/** Rounds of extending the parts' deadline before a head write gives up (each is a race with another commit). */
const MAX_EXTENSION_ROUNDS = 3;

/**
 * The split layout's reads and writes (docs/dynamodb.md, "Item layouts"; split-items.ts has the rules).
 * A commit writes the head first: it holds every guard (existence, expiry, lease, optimistic values),
 * bumps the version and claims the parts this commit changes. Only then are the parts written, each
 * refusing to replace newer content. A request that changes no large attribute writes the head alone.
 */
export class SplitLayout {
  private readonly reads: SplitReads;
  private readonly parts: SplitParts;

  constructor(
    private readonly io: StoreIo,
    private readonly settings: SplitSettings,
  ) {
    this.reads = new SplitReads(io, settings);
    this.parts = new SplitParts(io, settings.table);
  }

  /**
   * One Query. A strong one waits a little for part writes in flight (split-reads.ts): a load racing
   * a write that is not acknowledged yet may see the value from before it, as in the single layout.
   * An eventual one that shows a head naming content its parts do not show yet (a write in flight, or
   * replicas at different moments) falls back to a strong read, so it never pairs a head with parts older
   * than it names. A read-only (ignored) request never fences or repairs: it writes nothing.
   */
  async get(key: string, readOnly = false): Promise<StoredSession | undefined> {
    if (this.settings.eventualConsistency) {
      const items = await this.reads.query(key, false);
      const { head, parts } = partsByKey(items);
      if (head === undefined || pendingClaims(head, parts).length === 0) return assemble(items);
    }
    return unsettledIf(await this.reads.settled(key, { patienceMs: LOAD_PATIENCE_MS, readOnly }));
  }

  /** A strong read that waits out every part write in flight (up to readTimeout): what a move or a conflict works from. */
  private async settledSession(key: string): Promise<{ session: StoredSession | undefined; inFlight: boolean }> {
    const settled = await this.reads.settled(key, { patienceMs: this.io.readTimeout });
    return { session: assemble(settled.items), inFlight: settled.inFlight };
  }

  /**
   * A head a locking load took the lease on (its UpdateItem returned it), completed with its parts
   * when it names any: one more call, which also waits out the part writes of the lease's previous holder.
   */
  async withParts(key: string, head: Item): Promise<StoredSession> {
    if (registryOf(head).versions.size === 0) return toStoredSession(head);
    return unsettledIf(await this.reads.settled(key, { patienceMs: this.io.readTimeout, head }))!;
  }

  /** Writes the head (which fails if the key is taken), then the parts. False when the key was taken. */
  async create(key: string, session: NewSession): Promise<boolean> {
    const nowSeconds = Math.floor(session.lastAccessedAt / 1000);
    const partExpiry = partExpiresAt(session.expiresAt, nowSeconds);
    const inline = Object.create(null) as Record<string, StoredValue>;
    const parts: PartWrite[] = [];
    for (const [name, value] of Object.entries(session.data)) {
      if (isPart(value, this.settings.partThreshold)) parts.push({ name, value, claim: 1, expiresAt: partExpiry });
      else inline[name] = value;
    }
    const u = new UpdateExpressionBuilder();
    const claimedAt = this.settings.now();
    u.set(u.name(ATTR.data), inline)
      .set(u.name(ATTR.parts), Object.fromEntries(parts.map((p) => [p.name, 1])))
      .set(u.name(ATTR.partSince), Object.fromEntries(parts.map((p) => [p.name, 0])))
      .set(u.name(ATTR.partInfo), Object.fromEntries(parts.map((p) => [p.name, [contentHash(p.value), claimedAt]])))
      .set(u.name(ATTR.partsExpireAt), partExpiry);
    setNewSessionFields(u, session);
    const result = await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: `attribute_not_exists(${u.name(ATTR.key)})`, creates: true });
    if (!result.applied) return false;
    try {
      await this.parts.writeParts(key, parts, undefined);
    } catch (error) {
      // Nobody has the id yet: take the half-made session away rather than leave a head without its parts.
      await this.destroy(key).catch(() => undefined);
      throw error;
    }
    return true;
  }

  async update(key: string, update: SessionUpdate): Promise<UpdateOutcome> {
    const nowSeconds = Math.floor(update.now / 1000);
    const toParts = new Map<string, StoredValue>();
    const toInline = new Map<string, StoredValue>();
    for (const [name, value] of update.set) (isPart(value, this.settings.partThreshold) ? toParts : toInline).set(name, value);
    for (let attempt = 0; ; attempt++) {
      const result = await this.writeHead(key, update, toInline, toParts);
      if (!result.applied) {
        if (!result.current) return { status: 'gone' };
        // The head may not outlive its parts: when this write would, they are extended first and the write is tried again.
        if (this.outlivesParts(result.current, update.expiresAt) && attempt < MAX_EXTENSION_ROUNDS) {
          await this.extendParts(key, result.current, partExpiresAt(update.expiresAt, nowSeconds));
          continue;
        }
        // A guard failed: the whole session as it is now (its parts too, settled) tells the caller which attributes moved.
        const { session: current, inFlight } = await this.settledSession(key);
        if (!current || current.expiresAt <= nowSeconds) return { status: 'gone' };
        // A guard can fail on a write still landing, whose value no read shows yet: not a conflict to resolve, a moment to wait.
        if (inFlight) throw new SessionStoreUnavailableError('Another write of this session is still being stored; nothing was written. Retry.', { retryAfterSeconds: 1 });
        if (this.outlivesParts(result.current, update.expiresAt)) {
          throw new SessionStoreUnavailableError('Could not extend the expiry of the session\'s large attributes ahead of it; nothing was written.', { retryAfterSeconds: 1 });
        }
        return { status: 'conflict', current };
      }
      // The version this write gave the head; read back after a lost answer, each part's own claim (a later commit may have claimed it again).
      const before = result.readBack ? undefined : result.item;
      const after = result.item;
      const expiresAt = Math.max(partExpiresAt(update.expiresAt, nowSeconds), Number(after?.[ATTR.partsExpireAt] ?? 0));
      const parts = [...toParts].flatMap(([name, value]): PartWrite[] => {
        if (before) return [{ name, value, claim: Number(before[ATTR.version]) + 1, expiresAt }];
        const { versions, info } = registryOf(after);
        return info.get(name)?.hash === contentHash(value) ? [{ name, value, claim: versions.get(name)!, expiresAt }] : [];
      });
      await this.parts.writeParts(key, parts, before && registryOf(before));
      await this.afterCommit(key, { update, before, parts, dropped: [...toInline.keys(), ...update.remove], releaseLater: this.releasesLater(update, toParts) });
      return { status: 'stored' };
    }
  }

  /** Under locking the lease is given back with the last write: the head's when no part follows it. */
  private releasesLater(update: SessionUpdate, toParts: ReadonlyMap<string, StoredValue>): boolean {
    return update.lockOwner !== undefined && toParts.size > 0;
  }

  /** Whether a head expiring at `expiresAt` would outlive the parts of `head` (or the record of them, once they are gone). */
  private outlivesParts(head: Item, expiresAt: number): boolean {
    const partsExpireAt = head[ATTR.partsExpireAt] as number | undefined;
    return partsExpireAt !== undefined && Number(partsExpireAt) < expiresAt;
  }

  /**
   * The commit record: every guard, the version, the claims of the parts this commit changes, and the new
   * deadline (which may not pass the parts'). ALL_OLD: the version it replaced, from which the claims follow.
   */
  private writeHead(key: string, update: SessionUpdate, toInline: ReadonlyMap<string, StoredValue>, toParts: ReadonlyMap<string, StoredValue>) {
    const nowSeconds = Math.floor(update.now / 1000);
    const u = new UpdateExpressionBuilder();
    const data = (name: string): string => `${u.name(ATTR.data)}.${u.name(name)}`;
    const claimOf = (name: string): string => `${u.name(ATTR.parts)}.${u.name(name)}`;
    const sinceOf = (name: string): string => `${u.name(ATTR.partSince)}.${u.name(name)}`;
    const infoOf = (name: string): string => `${u.name(ATTR.partInfo)}.${u.name(name)}`;
    const partsExpireAt = u.name(ATTR.partsExpireAt);
    // Never write to a destroyed or expired session (that would resurrect it), nor past the parts' deadline.
    const guards = [
      `attribute_exists(${u.name(ATTR.key)})`, `${u.name(ATTR.expiresAt)} > ${u.value(nowSeconds)}`,
      `(attribute_not_exists(${partsExpireAt}) OR ${partsExpireAt} >= ${u.value(update.expiresAt)})`,
    ];
    for (const [name, value] of update.expected ?? []) {
      // An attribute is inline and unclaimed, or claimed by a part whose content hash the head keeps.
      guards.push(value === null
        ? `attribute_not_exists(${data(name)}) AND attribute_not_exists(${claimOf(name)})`
        : `((attribute_not_exists(${claimOf(name)}) AND ${data(name)} = ${u.value(value)}) OR ${infoOf(name)}[0] = ${u.value(contentHash(value))})`);
    }
    for (const [name, value] of toInline) u.set(data(name), value).remove(claimOf(name)).remove(sinceOf(name)).remove(infoOf(name));
    // A claim is the head's version after this write (operands read the item as it was); partSince keeps the version
    // before the first claim. An inline value stays until its part has landed: readers see it until then.
    const version = u.name(ATTR.version);
    for (const [name, value] of toParts) {
      u.setTo(claimOf(name), `${version} + ${u.value(1)}`).setTo(sinceOf(name), `if_not_exists(${sinceOf(name)}, ${version})`)
        .set(infoOf(name), [contentHash(value), this.settings.now()]);
    }
    if (toParts.size > 0) u.setTo(partsExpireAt, `if_not_exists(${partsExpireAt}, ${u.value(partExpiresAt(update.expiresAt, nowSeconds))})`);
    for (const name of update.remove) u.remove(data(name)).remove(claimOf(name)).remove(sinceOf(name)).remove(infoOf(name));
    u.set(u.name(ATTR.lastAccessedAt), update.lastAccessedAt).set(u.name(ATTR.expiresAt), update.expiresAt).add(version, 1);
    setMetadataChanges(u, update);
    const releaseLater = this.releasesLater(update, toParts);
    if (update.lockOwner !== undefined) {
      guards.push(`${u.name(ATTR.lockOwner)} = ${u.value(update.lockOwner)}`);
      // Kept while the parts are written, renewed so that it cannot run out before they are.
      if (!releaseLater) u.remove(u.name(ATTR.lockOwner)).remove(u.name(ATTR.lockExpires));
      else if (update.leaseUntil !== undefined) u.set(u.name(ATTR.lockExpires), update.leaseUntil);
    }
    const reflects = (item: Item): boolean => {
      const current = toStoredSession(item);
      const { versions, info } = registryOf(item);
      // A write that gives the lease back and did not land leaves it ours.
      const leaseKept = update.lockOwner !== undefined && !releaseLater && current.lockOwner === update.lockOwner;
      return current.expiresAt > nowSeconds && current.expiresAt >= update.expiresAt && !leaseKept &&
        [...toInline].every(([name, value]) => !versions.has(name) && sameStoredValue(current.data[name], value)) &&
        [...toParts].every(([name, value]) => info.get(name)?.hash === contentHash(value)) &&
        update.remove.every((name) => !versions.has(name) && current.data[name] === undefined) && reflectsMetadata(current, update);
    };
    return conditionalWrite(this.io, {
      table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND '), returnValues: 'ALL_OLD', reflects,
    });
  }

  /**
   * Deletes the head, then the parts it names. With `expectedVersion` (regenerate() retiring the session it
   * loaded), the session is first read settled: a part write still landing when the caller loaded (so it saw
   * the value from before) or since makes the answer 'changed', with the session as it now is to carry over.
   */
  async destroy(key: string, expectedVersion?: number): Promise<DestroyOutcome> {
    if (expectedVersion !== undefined) {
      const { session, inFlight } = await this.settledSession(key);
      if (!session) return { status: 'gone' };
      if (inFlight || session.version !== expectedVersion) return { status: 'changed', current: session };
    }
    const table = { name: this.settings.table, mayBeMissing: false };
    const outcome = await deleteIn(this.io, table, this.io.keyOf(key), expectedVersion === undefined ? undefined : { op: '=', version: expectedVersion });
    if ('changed' in outcome) return { status: 'changed', current: (await this.settledSession(key)).session ?? toStoredSession(outcome.changed) };
    if (outcome.old) {
      // The head is gone, so the session is: parts left behind are unreadable, and TTL removes them.
      const parts = [...registryOf(outcome.old).versions.keys()].map((name) => this.io.partKeyOf(key, partKeyOf(name)));
      await deleteItems(this.io, this.settings.table, parts).catch((e: unknown) =>
        this.settings.logger.warn(`session destroyed; ${parts.length} of its part items stay until TTL removes them: ${(e as Error).message}`));
    }
    // Gone, but maybe not by us: a logout then looks where the session went, a retiring move gives up (409).
    if (outcome.ambiguous === true) return { status: 'gone', ambiguous: true };
    return { status: outcome.deleted ? 'destroyed' : 'gone' };
  }

  /**
   * Upkeep after a stored commit, none of which changes what a reader sees: the inline copies of attributes
   * that moved to a part, the parts of attributes that moved inline or were removed, part deadlines that the
   * head is catching up with, and (under locking, when parts were written) the lease: after the part writes, and
   * after the deletes of stale parts, so the next holder never races them. When inline copies go too, the lease goes
   * in the same head write. Failures are logged: the commit stands, and leftovers are unreadable (TTL removes them)
   * or retried by the next commit.
   */
  private async afterCommit(
    key: string,
    c: { update: SessionUpdate; before: Item | undefined; parts: readonly PartWrite[]; dropped: readonly string[]; releaseLater: boolean },
  ): Promise<void> {
    const { logger } = this.settings;
    const before = registryOf(c.before);
    const inlineBefore = (c.before?.[ATTR.data] ?? {}) as Record<string, unknown>;
    const work: Array<Promise<unknown>> = [];
    const moved = c.parts.filter((p) => Object.hasOwn(inlineBefore, p.name));
    const dropWithRelease = c.releaseLater && moved.length > 0;
    if (moved.length > 0 && !dropWithRelease) work.push(this.dropInlineCopies(key, moved));
    const stale = c.dropped.filter((name) => before.versions.has(name));
    if (stale.length > 0) work.push(Promise.all(stale.map((name) => this.deletePart(key, name, before.versions.get(name)!))));
    const results = await Promise.allSettled(work);
    for (const r of results) if (r.status === 'rejected') logger.warn(`session part upkeep failed; what is left is never read: ${(r.reason as Error).message}`);
    if (dropWithRelease) await this.dropInlineCopiesAndRelease(key, moved, c.update.lockOwner!);
    else if (c.releaseLater) await this.release(key, c.update.lockOwner!);
  }

  /** Removes the inline copies of attributes whose part has landed, while the head still names this commit's claims. */
  private async dropInlineCopies(key: string, moved: readonly PartWrite[]): Promise<WriteResult> {
    const u = new UpdateExpressionBuilder();
    const guards = moved.map((p) => `${u.name(ATTR.parts)}.${u.name(p.name)} = ${u.value(p.claim)}`);
    for (const p of moved) u.remove(`${u.name(ATTR.data)}.${u.name(p.name)}`);
    return conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND ') });
  }

  /**
   * Under locking, after the parts landed: the inline copies and the lease go in one head write (one call instead of
   * two), conditioned on both the lease and every claim still being ours. Refused, the item says which failed: the
   * copies whose claim is still ours are dropped and a lease still ours is released, each on its own, as before.
   */
  private async dropInlineCopiesAndRelease(key: string, moved: readonly PartWrite[], owner: string): Promise<void> {
    const u = new UpdateExpressionBuilder();
    const guards = [`${u.name(ATTR.lockOwner)} = ${u.value(owner)}`, ...moved.map((p) => `${u.name(ATTR.parts)}.${u.name(p.name)} = ${u.value(p.claim)}`)];
    for (const p of moved) u.remove(`${u.name(ATTR.data)}.${u.name(p.name)}`);
    // As releaseLease: every write that gives the lease back bumps the version.
    u.remove(u.name(ATTR.lockOwner)).remove(u.name(ATTR.lockExpires)).add(u.name(ATTR.version), 1);
    let result: WriteResult;
    try {
      result = await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND ') });
    } catch (e) {
      this.settings.logger.warn(`session part upkeep failed; what is left is never read: ${(e as Error).message}`);
      return this.release(key, owner);
    }
    if (result.applied || result.current === undefined) return;
    const current = result.current;
    const claims = registryOf(current).versions;
    const inline = (current[ATTR.data] ?? {}) as Record<string, unknown>;
    const drop = moved.filter((p) => claims.get(p.name) === p.claim && Object.hasOwn(inline, p.name));
    const results = await Promise.allSettled([
      drop.length > 0 ? this.dropInlineCopies(key, drop) : undefined,
      current[ATTR.lockOwner] === owner ? this.release(key, owner) : undefined,
    ]);
    for (const r of results) if (r.status === 'rejected') this.settings.logger.warn(`session part upkeep failed; what is left is never read: ${(r.reason as Error).message}`);
  }

  /** Deletes a part its head no longer names, unless a later claim's content is there. */
  private async deletePart(key: string, name: string, claim: number): Promise<void> {
    const table = { name: this.settings.table, mayBeMissing: false };
    const itemKey = this.io.partKeyOf(key, partKeyOf(name));
    await deleteIn(this.io, table, itemKey, { op: '<=', version: claim, attribute: ATTR.partVersion });
  }

  /**
   * Moves every part's deadline to `expiresAt`, then the head's record of it (`partsExpireAt`), conditioned on the
   * head's version: a commit that claimed another part meanwhile makes the caller try again from the new head.
   */
  private async extendParts(key: string, head: Item, expiresAt: number): Promise<void> {
    // A part write in flight carries the deadline of before: it would undo the extension of its part.
    if ((await this.reads.settled(key, { patienceMs: this.io.readTimeout })).inFlight) {
      throw new SessionStoreUnavailableError('A write of this session is still being stored, so its large attributes cannot be extended yet; nothing was written. Retry.', { retryAfterSeconds: 1 });
    }
    await Promise.all([...registryOf(head).versions.keys()].map(async (name) => {
      try {
        await this.io.call(this.settings.table, 'UpdateItem', this.io.writeTimeout, (o) => this.io.documents.send(new UpdateCommand({
          TableName: this.settings.table,
          Key: this.io.partKeyOf(key, partKeyOf(name)),
          UpdateExpression: 'SET #e = :e',
          ConditionExpression: 'attribute_exists(#k) AND #e < :e',
          ExpressionAttributeNames: { '#e': ATTR.expiresAt, '#k': ATTR.key },
          ExpressionAttributeValues: { ':e': expiresAt },
        }), o));
      } catch (e) {
        if (!isConditionFailure(e)) throw e; // refused: the part is not there (yet) or already lives longer
      }
    }));
    const u = new UpdateExpressionBuilder();
    u.set(u.name(ATTR.partsExpireAt), expiresAt);
    await conditionalWrite(this.io, {
      table: this.settings.table, key: this.io.keyOf(key), update: u, condition: `${u.name(ATTR.version)} = ${u.value(Number(head[ATTR.version]))}`,
    });
  }

  private async release(key: string, owner: string): Promise<void> {
    try {
      await releaseLease(this.io, this.settings.table, key, owner);
    } catch (e) {
      this.settings.logger.warn(`could not release a session lock; it expires after lockExpiration: ${(e as Error).message}`);
    }
  }
}
