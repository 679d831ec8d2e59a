import { randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SessionStoreError } from '../../core/errors';
import { ATTR } from './item-attributes';
import { earlierAttemptMayLand, noRetryAfterLostAnswer } from './attempt-tracking';
import { fenceOrReadBack, fenceToken, notFenced } from './fences';
import { isConditionFailure, itemOfConditionFailure, mayHaveApplied } from './store-errors';
import type { Item, StoreIo } from './store-io';
import { UpdateExpressionBuilder } from './update-expression';

/** Unique per write: a random per-process prefix and a counter (cheaper than random bytes every write). */
const WRITE_TOKEN_PREFIX = randomBytes(9).toString('base64url');
let writeCounter = 0;
export function nextWriteToken(): string {
  return `${WRITE_TOKEN_PREFIX}.${(writeCounter++).toString(36)}`;
}

/**
 * The outcome of one conditional UpdateItem: applied (with the item the call returned, or, when the answer was lost
 * and the item was read back, the item as it is now: `readBack`), or refused with the item as it was.
 */
export type WriteResult =
  | { readonly applied: true; readonly item?: Item | undefined; readonly readBack?: boolean }
  | { readonly applied: false; readonly current: Item | undefined };

/** Errors of writes that were fenced and had not landed: they never will, so what led up to them is safe to undo. */
const cannotLand = new WeakSet<object>();
export function confirmedNotApplied(error: unknown): boolean {
  return typeof error === 'object' && error !== null && cannotLand.has(error);
}

/** Marks the error of a write that can no longer land (fenced, and found not landed). */
export function markNotApplied(error: unknown): void {
  if (typeof error === 'object' && error !== null) cannotLand.add(error);
}

/** Gives a session's lease back if `owner` still holds it (every write, the release too, bumps the version). */
export async function releaseLease(io: StoreIo, table: string, key: string, owner: string): Promise<void> {
  const u = new UpdateExpressionBuilder();
  u.remove(u.name(ATTR.lockOwner)).remove(u.name(ATTR.lockExpires)).add(u.name(ATTR.version), 1);
  await conditionalWrite(io, { table, key: io.keyOf(key), update: u, condition: `${u.name(ATTR.lockOwner)} = ${u.value(owner)}` });
}

export interface ConditionalWrite {
  readonly table: string;
  readonly key: Item;
  readonly update: UpdateExpressionBuilder;
  readonly condition: string;
  readonly returnValues?: 'ALL_NEW' | 'ALL_OLD';
  /** Whether an item that no longer carries our token still shows our change (another write came after ours). */
  readonly reflects?: (item: Item) => boolean;
  /**
   * 'token' (default): a write of which an attempt may still land (its answer was lost) is fenced by its token
   * before it is answered, so it can never land later. 'none': the caller fences (a part write fences its claim).
   */
  readonly fence?: 'token' | 'none';
  /**
   * The write creates a session's item (`attribute_not_exists` of its key, under a key not handed out yet): no SDK
   * retry after a lost answer (attempt-tracking.ts), and a create that had not landed is fenced by a dead item (fences.ts).
   */
  readonly creates?: boolean;
}

/**
 * One conditional UpdateItem stamped with a fresh writeToken. A refused
 * condition is an answer (with the item as it was, read in the same call). A
 * timeout or dropped connection may hide an applied write, or one DynamoDB
 * applies seconds later: before answering, the write is fenced (fences.ts), and
 * the item as the fence left it says whether it landed: our token, or our change
 * under a later write. That holds for any attempt, not only the last: one applied
 * and cut off, then throttled retries, still landed; and a retry that succeeded
 * after a lost attempt is fenced too, so the lost attempt cannot apply it twice.
 */
export async function conditionalWrite(io: StoreIo, w: ConditionalWrite): Promise<WriteResult> {
  const token = nextWriteToken();
  const u = w.update;
  u.set(u.name(ATTR.writeToken), token);
  const fenced = w.fence !== 'none';
  const condition = fenced ? `(${w.condition}) AND ${notFenced(u, token)}` : w.condition;
  const landed = (item: Item | undefined): Item | undefined => (item && (item[ATTR.writeToken] === token || w.reflects?.(item)) ? item : undefined);
  let output;
  try {
    output = await io.call(w.table, 'UpdateItem', io.writeTimeout, (o) => {
      const command = new UpdateCommand({
        TableName: w.table,
        Key: w.key,
        UpdateExpression: u.expression(),
        ConditionExpression: condition,
        ExpressionAttributeNames: u.names,
        ExpressionAttributeValues: u.values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...(w.returnValues && { ReturnValues: w.returnValues }),
      });
      if (w.creates) noRetryAfterLostAnswer(command);
      return io.documents.send(command, o);
    });
  } catch (e) {
    if (isConditionFailure(e)) {
      const current = itemOfConditionFailure(e);
      const ambiguous = mayHaveApplied(e);
      if (fenced && ambiguous) await fenceToken(io, w.table, w.key, token);
      // An SDK retry of a write that had landed fails its own condition: our token says it is ours.
      if (current?.[ATTR.writeToken] === token) return { applied: true, item: current, readBack: true };
      if (current && w.reflects && ambiguous && w.reflects(current)) return { applied: true, item: current, readBack: true };
      return { applied: false, current };
    }
    // A write fenced by its caller ('none') leaves the lost answer to the caller.
    if (fenced && e instanceof SessionStoreError && mayHaveApplied(e)) {
      // A write seen landed is not reported as failed. One not seen can never land once fenced; if the fence
      // failed too, it stays unknown: either way the request fails (503).
      const after = await fenceOrReadBack(io, w.table, w.key, token, w.creates);
      const item = landed(after?.item);
      if (item) return { applied: true, item, readBack: true };
      if (after?.fenced === true) markNotApplied(e);
    }
    throw e;
  }
  // Applied; a lost earlier attempt of it could apply it again later, over writes that came after. Unfenced, that
  // cannot be ruled out: the request fails (503) rather than answer 2xx for a write that may still be undone.
  if (fenced && earlierAttemptMayLand(output)) await fenceToken(io, w.table, w.key, token);
  return { applied: true, item: output.Attributes };
}
