import { randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SessionStoreError } from '../../core/errors';
import { ATTR } from './item-attributes';
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

/** Errors of writes whose item was read back and showed the write had not landed: safe to undo what led up to them. */
const readBackMissed = new WeakSet<object>();
export function confirmedNotApplied(error: unknown): boolean {
  return typeof error === 'object' && error !== null && readBackMissed.has(error);
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
}

/**
 * One conditional UpdateItem stamped with a fresh writeToken. A refused
 * condition is an answer (with the item as it was, read in the same call). A
 * timeout or dropped connection may hide an applied write: the item is read
 * back, and our token there means it landed. That holds for any attempt, not
 * only the last: one applied and cut off, then throttled retries, still landed.
 */
export async function conditionalWrite(io: StoreIo, w: ConditionalWrite): Promise<WriteResult> {
  const token = nextWriteToken();
  const u = w.update;
  u.set(u.name(ATTR.writeToken), token);
  try {
    const output = await io.call(w.table, 'UpdateItem', io.writeTimeout, (o) =>
      io.documents.send(new UpdateCommand({
        TableName: w.table,
        Key: w.key,
        UpdateExpression: u.expression(),
        ConditionExpression: w.condition,
        ExpressionAttributeNames: u.names,
        ExpressionAttributeValues: u.values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...(w.returnValues && { ReturnValues: w.returnValues }),
      }), o));
    return { applied: true, item: output.Attributes };
  } catch (e) {
    if (isConditionFailure(e)) {
      const current = itemOfConditionFailure(e);
      // An SDK retry of a write that had landed fails its own condition: our token says it is ours.
      if (current?.[ATTR.writeToken] === token) return { applied: true, item: current, readBack: true };
      if (current && w.reflects && mayHaveApplied(e) && w.reflects(current)) return { applied: true, item: current, readBack: true };
      return { applied: false, current };
    }
    if (e instanceof SessionStoreError && mayHaveApplied(e)) {
      const readBack = await io.read(w.table, w.key, true).then(
        (item) => ({ landed: item && (item[ATTR.writeToken] === token || w.reflects?.(item)) ? item : undefined }),
        () => undefined,
      );
      if (readBack?.landed) return { applied: true, item: readBack.landed, readBack: true };
      if (readBack) readBackMissed.add(e);
    }
    throw e;
  }
}
