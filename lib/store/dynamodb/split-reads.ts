import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { jitteredDelay, sleep } from '../../core/backoff';
import type { Logger } from '../../core/logger';
import { conditionalWrite } from './conditional-write';
import { ATTR, HEAD_PART } from './item-attributes';
import { contentHash, contentVersion, partKeyOf, partsByKey, pendingClaims, registryOf } from './split-items';
import type { Item, StoreIo } from './store-io';
import { UpdateExpressionBuilder } from './update-expression';

export interface SplitReadSettings {
  readonly table: string;
  readonly logger: Logger;
}

/**
 * Reads of the split layout. A strong read waits, briefly, for claims whose part write
 * is still in flight, so that what a request loads (and later guards on, or carries
 * through regenerate()) is what the writer acknowledges. A claim older than any write's
 * deadline whose content never landed was given up by its writer: the read repairs the
 * head's record of it, so optimistic guards compare against what is really stored.
 */
export class SplitReads {
  constructor(
    private readonly io: StoreIo,
    private readonly settings: SplitReadSettings,
  ) {}

  /**
   * How old a claim must be before its writer has certainly given up: its head write, its part
   * write and the read-back of an unanswered part write, each under its own deadline, and a second to spare.
   */
  private get abandonedAfterMs(): number {
    return 2 * this.io.writeTimeout + this.io.readTimeout + 1000;
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
   * recent claim's content has not landed; repair the record of claims given up. With `head`
   * (a head a locking load just read), only the parts are read. `inFlight`: a claim still had not landed
   * when patience ran out (or its record could not be repaired): the view may miss a write about to land.
   */
  async settled(key: string, patienceMs: number, head?: Item): Promise<{ items: Item[]; inFlight: boolean }> {
    const giveUpAt = Date.now() + patienceMs;
    for (let attempt = 0; ; attempt++) {
      const items = head ? [head, ...(await this.query(key, true, true))] : await this.query(key, true);
      const found = partsByKey(items);
      const pending = found.head ? pendingClaims(found.head, found.parts) : [];
      if (pending.length === 0) return { items, inFlight: false };
      const { info } = registryOf(found.head);
      const abandoned = Date.now() - this.abandonedAfterMs;
      const inFlight = pending.filter((name) => (info.get(name)?.claimedAt ?? 0) > abandoned);
      if (inFlight.length === 0) {
        const repaired = await this.repair(key, found.head!, found.parts, pending).then(() => true, (e: unknown) => {
          this.settings.logger.warn(`could not repair a session's record of part writes that never landed: ${(e as Error).message}`);
          return false;
        });
        return { items, inFlight: !repaired };
      }
      const left = giveUpAt - Date.now();
      if (left <= 0) return { items, inFlight: true }; // a writer this slow is about to fail: readers see the value from before its claim
      await sleep(Math.min(jitteredDelay(attempt, 5, 100), left));
    }
  }

  /**
   * Makes the head's record of given-up claims say what is stored, without changing what a reader
   * sees: the newest content that landed, or (none landed) no part, leaving the inline value if any.
   * Conditioned on each claim still being the one seen, so it never undoes a newer commit.
   */
  private async repair(key: string, head: Item, parts: ReadonlyMap<string, Item>, names: readonly string[]): Promise<void> {
    const { versions, since } = registryOf(head);
    const u = new UpdateExpressionBuilder();
    const guards: string[] = [];
    for (const name of names) {
      const claim = `${u.name(ATTR.parts)}.${u.name(name)}`;
      const info = `${u.name(ATTR.partInfo)}.${u.name(name)}`;
      guards.push(`${claim} = ${u.value(versions.get(name))}`);
      const part = parts.get(partKeyOf(name));
      const landed = contentVersion(part);
      if (part && landed > (since.get(name) ?? 0)) {
        u.set(claim, landed).set(info, [contentHash(part[ATTR.value] as string | Uint8Array), Date.now()]);
      } else {
        u.remove(claim).remove(`${u.name(ATTR.partSince)}.${u.name(name)}`).remove(info);
      }
    }
    await conditionalWrite(this.io, { table: this.settings.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND ') });
  }
}
