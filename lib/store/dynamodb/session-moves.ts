import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isStorageKey } from '../../core/ids';
import { ATTR, MOVED_KEY_PREFIX } from './item-attributes';
import { isConditionFailure } from './store-errors';
import type { SessionTables, StoreIo } from './store-io';
import { unlessMissing } from './store-io';

/**
 * Where regenerate() and login() moved a session: one small item per moved session, under the key
 * MOVED_KEY_PREFIX + its old key (no session has such a key: session keys are 43 base64url characters;
 * in the split layout the head's sort key), holding the string set `movedTo` and `expiresAt` (the table's
 * TTL attribute). It has no principal, so the principal index never lists it, and no reader of sessions
 * ever asks for its key. A logout that finds its session gone reads it (SessionStore.movesOf).
 */

/**
 * Adds `to` to the moves recorded for `from`, in one UpdateItem (the set only grows, so a retry or a
 * concurrent move of the same session loses nothing). The expiry only moves forward: an earlier one
 * refuses the first write's condition, and the set is then added to alone (two writes, only then).
 */
export async function recordMove(io: StoreIo, table: string, from: string, to: string, expiresAt: number): Promise<void> {
  const key = io.keyOf(MOVED_KEY_PREFIX + from);
  const add = (withExpiry: boolean) => io.call(table, 'UpdateItem', io.writeTimeout, (o) => io.documents.send(new UpdateCommand({
    TableName: table,
    Key: key,
    UpdateExpression: withExpiry ? 'ADD #to :to SET #e = :e' : 'ADD #to :to',
    ExpressionAttributeNames: { '#to': ATTR.movedTo, ...(withExpiry && { '#e': ATTR.expiresAt }) },
    ExpressionAttributeValues: { ':to': new Set([to]), ...(withExpiry && { ':e': expiresAt }) },
    ...(withExpiry && { ConditionExpression: 'attribute_not_exists(#e) OR #e <= :e' }),
  }), o));
  try {
    await add(true);
  } catch (e) {
    if (!isConditionFailure(e)) throw e;
    await add(false);
  }
}

/**
 * The keys recorded for `key`: one strong GetItem per table a record may be in (the table, or under
 * rotation the current and the previous one, as a move recorded before the boundary is in the previous).
 */
export async function movesOf(io: StoreIo, tables: SessionTables, key: string): Promise<string[]> {
  const found = new Set<string>();
  for (const table of tables) {
    const item = await unlessMissing(table, undefined, () => io.read(table.name, io.keyOf(MOVED_KEY_PREFIX + key), true));
    const moved: unknown = item?.[ATTR.movedTo];
    if (moved instanceof Set) for (const to of moved) if (typeof to === 'string' && isStorageKey(to)) found.add(to);
  }
  return [...found];
}
