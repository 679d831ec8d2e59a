import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SessionStoreError, SessionStoreUnavailableError } from '../../core/errors';
import type { StoredValue } from '../../core/session-store';
import { conditionalWrite, confirmedNotApplied, markNotApplied } from './conditional-write';
import { ATTR } from './item-attributes';
import { contentVersion, partKeyOf, Registry } from './split-items';
import { isConditionFailure, itemOfConditionFailure, mayHaveApplied } from './store-errors';
import type { Item, StoreIo } from './store-io';
import { UpdateExpressionBuilder } from './update-expression';

/**
 * Part writes and their fences (docs/dynamodb.md, "Item layouts"; docs/guarantees.md, "Writes whose answer was lost").
 *
 * A part's content carries the head version that claimed it (`v`), and a part write only replaces older content,
 * so parts change in the order the head claimed them. A claim whose content may still land is never given up,
 * repaired or undone until it is fenced: `f` on the part item is raised to the claim, and from then on no content
 * of that claim or an earlier one can land. A fence refused because the claim's content (or later) is there says
 * it landed. No clock decides anything here: a clock only decides when a reader fences (split-reads.ts).
 */

/** A part a commit writes: its value, the head version that claimed it, and how long it lives. */
export interface PartWrite {
  readonly name: string;
  readonly value: StoredValue;
  readonly claim: number;
  readonly expiresAt: number;
}

/** Content of `claim` or a later one is there, or it can no longer come. */
export type FenceOutcome = 'landed' | 'fenced';

/** The condition a part write and a fence share: neither the claim's content nor a fence of it or later is there. */
function open(u: UpdateExpressionBuilder, claim: number): string {
  const v = u.name(ATTR.partVersion);
  const f = u.name(ATTR.partFence);
  const c = u.value(claim);
  return `(attribute_not_exists(${v}) OR ${v} < ${c}) AND (attribute_not_exists(${f}) OR ${f} < ${c})`;
}

/** What a refused part write or fence found: content of the claim or later (landed), else a fence of it or later. */
function outcomeOf(item: Item | undefined, claim: number): FenceOutcome {
  return contentVersion(item) >= claim ? 'landed' : 'fenced';
}

/**
 * Fences `claim` on a part item (made if missing, with a deadline for TTL). Safe to repeat and safe to land late:
 * it only ever raises the fence, and never over content of the claim. Store failures are the caller's.
 */
export async function fencePart(io: StoreIo, table: string, itemKey: Item, claim: number, expiresAt: number): Promise<FenceOutcome> {
  const u = new UpdateExpressionBuilder();
  u.set(u.name(ATTR.partFence), claim).setTo(u.name(ATTR.expiresAt), `if_not_exists(${u.name(ATTR.expiresAt)}, ${u.value(expiresAt)})`);
  try {
    await io.call(table, 'UpdateItem', io.writeTimeout, (o) => io.documents.send(new UpdateCommand({
      TableName: table, Key: itemKey, UpdateExpression: u.expression(), ConditionExpression: open(u, claim),
      ExpressionAttributeNames: u.names, ExpressionAttributeValues: u.values, ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }), o));
    return 'fenced';
  } catch (e) {
    if (isConditionFailure(e)) return outcomeOf(itemOfConditionFailure(e), claim);
    throw e;
  }
}

function fencedOut(): SessionStoreUnavailableError {
  return new SessionStoreUnavailableError(
    'A large session attribute was not stored: its write was too slow, and a later request stopped it from landing. Nothing of it was kept; retry.',
    { retryAfterSeconds: 1 },
  );
}

export class SplitParts {
  constructor(
    private readonly io: StoreIo,
    private readonly table: string,
  ) {}

  /**
   * Writes the claimed parts. When a part write fails, a claim that certainly did not land (refused by a fence, or
   * fenced by us after a lost answer) is unclaimed again (best effort, when the registry before is known), so the
   * head keeps pointing at the content that is there; then the request fails.
   */
  async writeParts(key: string, parts: readonly PartWrite[], before: Registry | undefined): Promise<void> {
    const results = await Promise.allSettled(parts.map((part) => this.writePart(key, part)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ part: parts[i]!, error: r.reason as unknown }] : []));
    if (failed.length === 0) return;
    const unlanded = failed.filter((f) => !mayHaveApplied(f.error) || confirmedNotApplied(f.error)).map((f) => f.part);
    if (unlanded.length > 0 && before !== undefined) await this.unclaim(key, unlanded, before).catch(() => undefined);
    throw failed[0]!.error;
  }

  /**
   * One part write, only over older content and never past a fence. Refused over content of this claim or a later
   * one: ours landed, or was replaced as if written first. Refused by a fence: a reader gave this write up, so it
   * fails (503). A lost answer: our own fence decides, so the write cannot land after we answer.
   */
  private async writePart(key: string, part: PartWrite): Promise<void> {
    const u = new UpdateExpressionBuilder();
    u.set(u.name(ATTR.value), part.value).set(u.name(ATTR.partVersion), part.claim).set(u.name(ATTR.expiresAt), part.expiresAt);
    const partKey = partKeyOf(part.name);
    if (partKey.startsWith('h#')) u.set(u.name(ATTR.name), part.name);
    const itemKey = this.io.partKeyOf(key, partKey);
    let result;
    try {
      result = await conditionalWrite(this.io, { table: this.table, key: itemKey, update: u, condition: open(u, part.claim), fence: 'none' });
    } catch (error) {
      if (!(error instanceof SessionStoreError) || !mayHaveApplied(error)) throw error;
      const outcome = await fencePart(this.io, this.table, itemKey, part.claim, part.expiresAt).catch(() => {
        throw error; // not fenced: the write may still land, so nothing may be undone
      });
      if (outcome === 'landed') return;
      markNotApplied(error);
      throw error;
    }
    if (result.applied || outcomeOf(result.current, part.claim) === 'landed') return;
    const error = fencedOut();
    markNotApplied(error);
    throw error;
  }

  /** Puts the registry entries of parts that did not land back as they were, unless a later commit claimed them since. */
  private async unclaim(key: string, parts: readonly PartWrite[], before: Registry): Promise<void> {
    const u = new UpdateExpressionBuilder();
    const guards: string[] = [];
    for (const part of parts) {
      const claim = `${u.name(ATTR.parts)}.${u.name(part.name)}`;
      const since = `${u.name(ATTR.partSince)}.${u.name(part.name)}`;
      const info = `${u.name(ATTR.partInfo)}.${u.name(part.name)}`;
      guards.push(`${claim} = ${u.value(part.claim)}`);
      const was = before.versions.get(part.name);
      const wasSince = before.since.get(part.name);
      const wasInfo = before.info.get(part.name);
      if (was === undefined || wasSince === undefined || wasInfo === undefined) u.remove(claim).remove(since).remove(info);
      else u.set(claim, was).set(since, wasSince).set(info, [wasInfo.hash, wasInfo.claimedAt]);
    }
    await conditionalWrite(this.io, { table: this.table, key: this.io.keyOf(key), update: u, condition: guards.join(' AND ') });
  }
}
