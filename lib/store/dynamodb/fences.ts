import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ATTR } from './item-attributes';
import { isConditionFailure } from './store-errors';
import type { Item, StoreIo } from './store-io';
import type { UpdateExpressionBuilder } from './update-expression';

/**
 * Fencing writes whose answer was lost (docs/guarantees.md, "Writes whose answer was lost").
 *
 * DynamoDB may apply a write seconds after its answer was lost, after other requests ran. Reading the item
 * back cannot rule that out, and no clock can. So every session write is conditioned on its token not being
 * in the item's `fences` set, and a write that may still land is fenced before its request is answered: its
 * token goes into the set. From then on the write can only be refused, and the item the fence returns says
 * whether it had landed before. A fence changes neither the version nor the write token.
 */

/** The condition every fenced write (UpdateItem or DeleteItem) carries. */
export function notFenced(u: UpdateExpressionBuilder, token: string): string {
  return `NOT contains(${u.name(ATTR.fences)}, ${u.value(token)})`;
}

/**
 * Puts `token` in the item's fences: the write it stamps can never land after this. Returns the item as the
 * fence left it, or `absent` when there is no item (an update needs one, so none of ours can land either).
 * For a create (`create`), a missing item is made as a dead one instead: it has our fence, no session fields and a
 * deadline already past, so reads see no session and the late create finds its key taken. The key was never handed
 * out (the create is answered 503), and TTL removes the item. Failures are the caller's: the outcome stays unknown.
 */
export async function fenceToken(io: StoreIo, table: string, key: Item, token: string, create = false): Promise<{ item: Item } | { absent: true }> {
  try {
    const output = await io.call(table, 'UpdateItem', io.writeTimeout, (o) =>
      io.documents.send(new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: create ? 'ADD #f :t SET #e = if_not_exists(#e, :past)' : 'ADD #f :t',
        ...(!create && { ConditionExpression: 'attribute_exists(#k)' }),
        ExpressionAttributeNames: { '#f': ATTR.fences, ...(create ? { '#e': ATTR.expiresAt } : { '#k': ATTR.key }) },
        ExpressionAttributeValues: { ':t': new Set([token]), ...(create && { ':past': 0 }) },
        ReturnValues: 'ALL_NEW',
      }), o));
    return { item: output.Attributes ?? {} };
  } catch (e) {
    if (isConditionFailure(e)) return { absent: true };
    throw e;
  }
}

/**
 * After a write's answer was lost: fences it, and returns the item as the fence left it (`fenced`: the write can no
 * longer land). If the fence fails too (under write throttling it does), the item is read back instead: it still
 * shows a write that landed, but one not seen may land later. Undefined when neither call got an answer.
 */
export async function fenceOrReadBack(io: StoreIo, table: string, key: Item, token: string, create = false): Promise<{ item: Item | undefined; fenced: boolean } | undefined> {
  const after = await fenceToken(io, table, key, token, create).catch(() => undefined);
  if (after) return { item: 'absent' in after ? undefined : after.item, fenced: true };
  return io.read(table, key, true).then((item) => ({ item, fenced: false }), () => undefined);
}
