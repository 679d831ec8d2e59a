import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { jitteredDelay, sleep } from '../../core/backoff';
import type { Logger } from '../../core/logger';
import { conditionalWrite } from './conditional-write';
import { ATTR, HEAD_PART } from './item-attributes';
import { contentHash, contentVersion, fenceOf, partKeyOf, partsByKey, pendingClaims, registryOf } from './split-items';
import { fencePart } from './split-parts';
import type { Item, StoreIo } from './store-io';
import { UpdateExpressionBuilder } from './update-expression';

export interface SplitReadSettings {
  readonly table: string;
  readonly logger: Logger;
  /** The store's clock (epoch ms): only when to fence a claim follows it, never what is kept. */
  readonly now: () => number;
}

/** What a settled read may do about claims whose writer gave up. */
export interface SettleOptions {
  /** How long to wait (real ms) for part writes in flight. */
  readonly patienceMs: number;
  /** A head a locking load just read: only the parts are read. */
  readonly head?: Item;
  /** A request that writes nothing (ignored): it never fences or repairs, and reads the value from before such a claim. */
  readonly readOnly?: boolean;
}

/**
 * Reads of the split layout. A strong read waits, briefly, for claims whose part write
 * is still in flight, so that what a request loads (and later guards on, or carries
 * through regenerate()) is what the writer acknowledges. A claim old enough that its
 * writer has most likely given up is fenced (split-parts.ts), and only then is the
 * head's record of it repaired, so optimistic guards compare against what is really
 * stored. The age only decides when to fence; the fence decides what is kept.
 */
export class SplitReads {
  constructor(
    private readonly io: StoreIo,
    private readonly settings: SplitReadSettings,
  ) {}

  /**
   * How old a claim must be before its writer has most likely given up: its head write and
   * part write, each with the fence that follows a lost answer, and a second to spare.
   */
  private get givenUpAfterMs(): number {
    return 4 * this.io.writeTimeout + 1000;
  }

  /** The session's items (or only its parts), every page of one Query. */
  async query(key: string, consistent: boolean, partsOnly = false): Promise<Item[]> {
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
   * A strong read with no claim in flight: re-read (with backoff, up to `patienceMs`) while a
   * recent claim's content has not landed; fence, then repair, claims given up. `inFlight`: a claim
   * still had not landed when patience ran out (or could not be fenced and repaired, or the read
   * was read-only): the view shows the value from before it.
   */
  async settled(key: string, o: SettleOptions): Promise<{ items: Item[]; inFlight: boolean }> {
    const giveUpAt = Date.now() + o.patienceMs;
    for (let attempt = 0; ; attempt++) {
      const items = o.head ? [o.head, ...(await this.query(key, true, true))] : await this.query(key, true);
      const found = partsByKey(items);
      const pending = found.head ? pendingClaims(found.head, found.parts) : [];
      if (pending.length === 0) return { items, inFlight: false };
      const { info, versions } = registryOf(found.head);
      const givenUp = this.settings.now() - this.givenUpAfterMs;
      // A claim already fenced (by its writer, or a reader) can never get its content: no need to wait for its age.
      const fenced = (name: string): boolean => fenceOf(found.parts.get(partKeyOf(name))) >= versions.get(name)!;
      const inFlight = pending.filter((name) => !fenced(name) && (info.get(name)?.claimedAt ?? 0) > givenUp);
      if (inFlight.length === 0) {
        if (o.readOnly) return { items, inFlight: true };
        const outcome = await this.fenceAndRepair(key, found.head!, found.parts, pending).catch((e: unknown) => {
          this.settings.logger.warn(`could not fence and repair a session's record of part writes that never landed: ${(e as Error).message}`);
          return 'failed' as const;
        });
        // Content arrived before its fence: read it (within patience: a loop here would be a bug, not a slow writer).
        if (outcome === 'landed' && Date.now() < giveUpAt) continue;
        return { items, inFlight: outcome !== 'repaired' };
      }
      const left = giveUpAt - Date.now();
      if (left <= 0) return { items, inFlight: true }; // a writer this slow is about to fail: readers see the value from before its claim
      await sleep(Math.min(jitteredDelay(attempt, 5, 100), left));
    }
  }

  /**
   * Fences every given-up claim, then makes the head's record of them say what is stored, without
   * changing what a reader sees: the newest content that landed, or (none landed) no part, leaving
   * the inline value if any. Conditioned on each claim still being the one seen, so it never undoes
   * a newer commit. 'landed': some content came before its fence (re-read it).
   */
  private async fenceAndRepair(key: string, head: Item, parts: ReadonlyMap<string, Item>, names: readonly string[]): Promise<'landed' | 'repaired'> {
    const { versions, since } = registryOf(head);
    const partsExpireAt = Number(head[ATTR.partsExpireAt] ?? head[ATTR.expiresAt]);
    const fences = await Promise.all(names.map((name) =>
      fencePart(this.io, this.settings.table, this.io.partKeyOf(key, partKeyOf(name)), versions.get(name)!, partsExpireAt)));
    if (fences.includes('landed')) return 'landed';
    const u = new UpdateExpressionBuilder();
    const guards: string[] = [];
    for (const name of names) {
      const claim = `${u.name(ATTR.parts)}.${u.name(name)}`;
      const info = `${u.name(ATTR.partInfo)}.${u.name(name)}`;
      guards.push(`${claim} = ${u.value(versions.get(name))}`);
      const part = parts.get(partKeyOf(name));
      const landed = contentVersion(part);
      if (part && landed > (since.get(name) ?? 0)) {
        u.set(claim, landed).set(info, [contentHash(part[ATTR.value] as string | Uint8Array), this.settings.now()]);
      } else {
        u.remove(claim).remove(`${u.name(ATTR.partSince)}.${u.name(name)}`).remove(info);
      }
    }
    await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND ') });
    return 'repaired';
  }
}
