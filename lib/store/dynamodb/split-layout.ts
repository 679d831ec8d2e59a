import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '../../core/logger';
import { NewSession, sameStoredValue, SessionUpdate, StoredSession, StoredValue, UpdateOutcome } from '../../core/session-store';
import { conditionalWrite } from './conditional-write';
import { ATTR, HEAD_PART } from './item-attributes';
import { toStoredSession } from './item-codec';
import { deleteItems } from './principal-sessions';
import { deleteIn } from './session-deletes';
import {
  assemble, contentHash, isPart, PART_EXTEND_MARGIN_SECONDS, partExpiresAt, partKeyOf, Registry, registryOf,
} from './split-items';
import { isConditionFailure, mayHaveApplied } from './store-errors';
import type { Item, StoreIo } from './store-io';
import { UpdateExpressionBuilder } from './update-expression';

export interface SplitSettings {
  readonly table: string;
  readonly partThreshold: number;
  readonly eventualConsistency: boolean;
  readonly logger: Logger;
}

/** A part this commit writes: its value, the head version that claimed it, and how long it lives. */
interface PartWrite {
  readonly name: string;
  readonly value: StoredValue;
  readonly claim: number;
  readonly expiresAt: number;
}

/**
 * The split layout's reads and writes (docs/dynamodb.md, "Item layouts"; split-items.ts has the rules).
 * A commit writes the head first: it holds every guard (existence, expiry, lease, optimistic values),
 * bumps the version and claims the parts this commit changes. Only then are the parts written, each
 * refusing to replace newer content. A request that changes no large attribute writes the head alone.
 */
export class SplitLayout {
  constructor(
    private readonly io: StoreIo,
    private readonly settings: SplitSettings,
  ) {}

  async get(key: string, consistent = !this.settings.eventualConsistency): Promise<StoredSession | undefined> {
    return assemble(await this.query(key, consistent, false));
  }

  /** A head read on its own (a locking load's UpdateItem), completed with its parts when it names any: at most one more call. */
  async withParts(key: string, head: Item): Promise<StoredSession> {
    if (registryOf(head).versions.size === 0) return toStoredSession(head);
    return assemble([head, ...(await this.query(key, true, true))])!;
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
    u.set(u.name(ATTR.data), inline)
      .set(u.name(ATTR.parts), Object.fromEntries(parts.map((p) => [p.name, 1])))
      .set(u.name(ATTR.partInfo), Object.fromEntries(parts.map((p) => [p.name, [partExpiry, contentHash(p.value)]])))
      .set(u.name(ATTR.createdAt), session.createdAt)
      .set(u.name(ATTR.lastAccessedAt), session.lastAccessedAt)
      .set(u.name(ATTR.expiresAt), session.expiresAt)
      .set(u.name(ATTR.version), 1);
    if (session.absoluteExpiresAt !== undefined) u.set(u.name(ATTR.absoluteExpiresAt), session.absoluteExpiresAt);
    if (session.maxInactiveInterval !== undefined) u.set(u.name(ATTR.maxInactiveInterval), session.maxInactiveInterval);
    if (session.principal !== undefined) u.set(u.name(ATTR.principal), session.principal);
    const result = await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: `attribute_not_exists(${u.name(ATTR.key)})` });
    if (!result.applied) return false;
    try {
      await this.writeParts(key, parts, undefined);
    } catch (error) {
      // Nobody has the id yet: take the half-made session away rather than leave a head without its parts.
      await this.destroy(key).catch(() => undefined);
      throw error;
    }
    return true;
  }

  async update(key: string, update: SessionUpdate): Promise<UpdateOutcome> {
    const nowSeconds = Math.floor(update.now / 1000);
    const partExpiry = partExpiresAt(update.expiresAt, nowSeconds);
    const toParts = new Map<string, StoredValue>();
    const toInline = new Map<string, StoredValue>();
    for (const [name, value] of update.set) (isPart(value, this.settings.partThreshold) ? toParts : toInline).set(name, value);
    const u = new UpdateExpressionBuilder();
    const data = (name: string): string => `${u.name(ATTR.data)}.${u.name(name)}`;
    const claimOf = (name: string): string => `${u.name(ATTR.parts)}.${u.name(name)}`;
    const infoOf = (name: string): string => `${u.name(ATTR.partInfo)}.${u.name(name)}`;
    // Never write to a destroyed or expired session: that would resurrect it.
    const guards = [`attribute_exists(${u.name(ATTR.key)})`, `${u.name(ATTR.expiresAt)} > ${u.value(nowSeconds)}`];
    for (const [name, value] of update.expected ?? []) {
      // An attribute is inline and unclaimed, or claimed by a part whose content hash the head keeps.
      guards.push(value === null
        ? `attribute_not_exists(${data(name)}) AND attribute_not_exists(${claimOf(name)})`
        : `((attribute_not_exists(${claimOf(name)}) AND ${data(name)} = ${u.value(value)}) OR ${infoOf(name)}[1] = ${u.value(contentHash(value))})`);
    }
    for (const [name, value] of toInline) u.set(data(name), value).remove(claimOf(name)).remove(infoOf(name));
    // A claim is the head's version after this write; an inline value stays until its part has landed (readers fall back to it).
    for (const [name, value] of toParts) u.setTo(claimOf(name), `${u.name(ATTR.version)} + ${u.value(1)}`).set(infoOf(name), [partExpiry, contentHash(value)]);
    for (const name of update.remove) u.remove(data(name)).remove(claimOf(name)).remove(infoOf(name));
    u.set(u.name(ATTR.lastAccessedAt), update.lastAccessedAt).set(u.name(ATTR.expiresAt), update.expiresAt).add(u.name(ATTR.version), 1);
    if (update.maxInactiveInterval !== undefined) u.set(u.name(ATTR.maxInactiveInterval), update.maxInactiveInterval);
    if (update.principal === null) u.remove(u.name(ATTR.principal));
    else if (update.principal !== undefined) u.set(u.name(ATTR.principal), update.principal);
    // Under locking the lease is given back with the last write: the head's when no part follows it.
    const releaseLater = update.lockOwner !== undefined && toParts.size > 0;
    if (update.lockOwner !== undefined) {
      guards.push(`${u.name(ATTR.lockOwner)} = ${u.value(update.lockOwner)}`);
      if (!releaseLater) u.remove(u.name(ATTR.lockOwner)).remove(u.name(ATTR.lockExpires));
    }
    const reflects = (item: Item): boolean => {
      const current = toStoredSession(item);
      const { versions, info } = registryOf(item);
      return current.expiresAt > nowSeconds &&
        [...toInline].every(([name, value]) => !versions.has(name) && sameStoredValue(current.data[name], value)) &&
        [...toParts].every(([name, value]) => info.get(name)?.hash === contentHash(value)) &&
        update.remove.every((name) => !versions.has(name) && current.data[name] === undefined) &&
        (update.principal === undefined || current.principal === (update.principal ?? undefined)) &&
        (update.maxInactiveInterval === undefined || current.maxInactiveInterval === update.maxInactiveInterval);
    };
    const result = await conditionalWrite(this.io, {
      table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND '), returnValues: 'ALL_OLD', reflects,
    });
    if (!result.applied) {
      if (!result.current) return { status: 'gone' };
      // A guard failed: the whole session as it is now (its parts too) tells the caller which attributes moved.
      const current = await this.get(key, true);
      return !current || current.expiresAt <= nowSeconds ? { status: 'gone' } : { status: 'conflict', current };
    }
    // The version this write gave the head; read back after a lost answer, each part's own claim (a later commit may have claimed it again).
    const before = result.readBack ? undefined : result.item;
    const parts = [...toParts].flatMap(([name, value]): PartWrite[] => {
      if (before) return [{ name, value, claim: Number(before[ATTR.version]) + 1, expiresAt: partExpiry }];
      const { versions, info } = registryOf(result.item);
      return info.get(name)?.hash === contentHash(value) ? [{ name, value, claim: versions.get(name)!, expiresAt: partExpiry }] : [];
    });
    await this.writeParts(key, parts, before);
    await this.afterCommit(key, { update, before, parts, dropped: [...toInline.keys(), ...update.remove], releaseLater });
    return { status: 'stored' };
  }

  async destroy(key: string, expectedVersion?: number): Promise<{ status: 'destroyed' | 'gone' } | { status: 'changed'; current: StoredSession }> {
    const table = { name: this.settings.table, mayBeMissing: false };
    const outcome = await deleteIn(this.io, table, this.io.keyOf(key), expectedVersion === undefined ? undefined : { op: '=', version: expectedVersion });
    if ('changed' in outcome) return { status: 'changed', current: (await this.get(key, true)) ?? toStoredSession(outcome.changed) };
    if (outcome.old) {
      // The head is gone, so the session is: parts left behind are unreadable, and TTL removes them.
      const parts = [...registryOf(outcome.old).versions.keys()].map((name) => this.io.partKeyOf(key, partKeyOf(name)));
      await deleteItems(this.io, this.settings.table, parts).catch((e: unknown) =>
        this.settings.logger.warn(`session destroyed; ${parts.length} of its part items stay until TTL removes them: ${(e as Error).message}`));
    }
    return { status: outcome.deleted ? 'destroyed' : 'gone' };
  }

  /** One Query on the session's key (or only its parts), every page. */
  private async query(key: string, consistent: boolean, partsOnly: boolean): Promise<Item[]> {
    const items: Item[] = [];
    const table = this.settings.table;
    let start: Item | undefined;
    do {
      const page = await this.io.call(table, 'Query', this.io.readTimeout, (o) =>
        this.io.documents.send(new QueryCommand({
          TableName: table,
          KeyConditionExpression: partsOnly ? '#k = :k AND #p > :head' : '#k = :k',
          ExpressionAttributeNames: { '#k': ATTR.key, ...(partsOnly && { '#p': ATTR.part }) },
          ExpressionAttributeValues: { ':k': this.io.keyOf(key)[ATTR.key] as string, ...(partsOnly && { ':head': HEAD_PART }) },
          ConsistentRead: consistent,
          ...(start && { ExclusiveStartKey: start }),
        }), o));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * Writes the claimed parts, each only over older content: when a later commit's content is
   * there already, ours was replaced, as if written first. A part that certainly did not land
   * is unclaimed again (best effort), so the head keeps pointing at the content that is there.
   */
  private async writeParts(key: string, parts: readonly PartWrite[], before: Item | undefined): Promise<void> {
    const results = await Promise.allSettled(parts.map((part) => this.writePart(key, part)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ part: parts[i]!, error: r.reason as unknown }] : []));
    if (failed.length === 0) return;
    const unlanded = failed.filter((f) => !mayHaveApplied(f.error)).map((f) => f.part);
    if (unlanded.length > 0) await this.unclaim(key, unlanded, registryOf(before)).catch(() => undefined);
    throw failed[0]!.error;
  }

  private async writePart(key: string, part: PartWrite): Promise<void> {
    const u = new UpdateExpressionBuilder();
    u.set(u.name(ATTR.value), part.value).set(u.name(ATTR.partVersion), part.claim).set(u.name(ATTR.expiresAt), part.expiresAt);
    const partKey = partKeyOf(part.name);
    if (partKey.startsWith('h#')) u.set(u.name(ATTR.name), part.name);
    const condition = `attribute_not_exists(${u.name(ATTR.key)}) OR ${u.name(ATTR.partVersion)} < ${u.value(part.claim)}`;
    // Refused means newer content is there already (or ours, answered late): either way nothing is left to do.
    await conditionalWrite(this.io, { table: this.settings.table, key: this.io.partKeyOf(key, partKey), update: u, condition });
  }

  /** Puts the registry entries of parts that did not land back as they were, unless a later commit claimed them since. */
  private async unclaim(key: string, parts: readonly PartWrite[], before: Registry): Promise<void> {
    const u = new UpdateExpressionBuilder();
    const guards: string[] = [];
    for (const part of parts) {
      const claim = `${u.name(ATTR.parts)}.${u.name(part.name)}`;
      const info = `${u.name(ATTR.partInfo)}.${u.name(part.name)}`;
      guards.push(`${claim} = ${u.value(part.claim)}`);
      const was = before.versions.get(part.name);
      const wasInfo = before.info.get(part.name);
      if (was === undefined || wasInfo === undefined) u.remove(claim).remove(info);
      else u.set(claim, was).set(info, [wasInfo.expiresAt, wasInfo.hash]);
    }
    await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND ') });
  }

  /**
   * Upkeep after a stored commit, none of which changes what a reader sees: the inline copies of attributes
   * that moved to a part, the parts of attributes that moved inline or were removed, part deadlines that the
   * head is catching up with, and (under locking, when parts were written) the lease. Failures are logged:
   * the commit stands, and leftovers are unreadable (TTL removes them) or retried by the next commit.
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
    if (moved.length > 0) work.push(this.dropInlineCopies(key, moved));
    const stale = c.dropped.filter((name) => before.versions.has(name));
    if (stale.length > 0) work.push(Promise.all(stale.map((name) => this.deletePart(key, name, before.versions.get(name)!))));
    const written = new Set(c.parts.map((p) => p.name));
    const dropped = new Set(c.dropped);
    const expiring = [...before.info].filter(([name, info]) =>
      !written.has(name) && !dropped.has(name) && info.expiresAt < c.update.expiresAt + PART_EXTEND_MARGIN_SECONDS);
    if (expiring.length > 0) {
      const expiresAt = partExpiresAt(c.update.expiresAt, Math.floor(c.update.now / 1000));
      work.push(this.extendParts(key, expiring.map(([name]) => ({ name, claim: before.versions.get(name)!, hash: before.info.get(name)!.hash })), expiresAt));
    }
    const results = await Promise.allSettled(work);
    for (const r of results) if (r.status === 'rejected') logger.warn(`session part upkeep failed, retried later: ${(r.reason as Error).message}`);
    if (c.releaseLater) await this.release(key, c.update.lockOwner!);
  }

  private async dropInlineCopies(key: string, moved: readonly PartWrite[]): Promise<void> {
    const u = new UpdateExpressionBuilder();
    const guards = moved.map((p) => `${u.name(ATTR.parts)}.${u.name(p.name)} = ${u.value(p.claim)}`);
    for (const p of moved) u.remove(`${u.name(ATTR.data)}.${u.name(p.name)}`);
    await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND ') });
  }

  /** Deletes a part its head no longer names, unless a later claim's content is there. */
  private async deletePart(key: string, name: string, claim: number): Promise<void> {
    const table = { name: this.settings.table, mayBeMissing: false };
    const itemKey = this.io.partKeyOf(key, partKeyOf(name));
    await deleteIn(this.io, table, itemKey, { op: '<=', version: claim, attribute: ATTR.partVersion });
  }

  /** Moves part deadlines ahead of the head's: the parts first, then the head's record of them. */
  private async extendParts(key: string, parts: ReadonlyArray<{ name: string; claim: number; hash: string }>, expiresAt: number): Promise<void> {
    await Promise.all(parts.map(async ({ name }) => {
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
        if (!isConditionFailure(e)) throw e; // refused: the part is gone or already lives longer
      }
    }));
    const u = new UpdateExpressionBuilder();
    const guards: string[] = [];
    for (const { name, claim, hash } of parts) {
      guards.push(`${u.name(ATTR.parts)}.${u.name(name)} = ${u.value(claim)}`);
      u.set(`${u.name(ATTR.partInfo)}.${u.name(name)}`, [expiresAt, hash]);
    }
    await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND ') });
  }

  private async release(key: string, owner: string): Promise<void> {
    const u = new UpdateExpressionBuilder();
    u.remove(u.name(ATTR.lockOwner)).remove(u.name(ATTR.lockExpires)).add(u.name(ATTR.version), 1);
    try {
      await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: `${u.name(ATTR.lockOwner)} = ${u.value(owner)}` });
    } catch (e) {
      this.settings.logger.warn(`could not release a session lock; it expires after lockExpiration: ${(e as Error).message}`);
    }
  }
}
