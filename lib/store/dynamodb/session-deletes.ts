import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { DestroyOutcome } from '../../core/session-store';
import { earlierAttemptMayLand } from './attempt-tracking';
import { nextWriteToken } from './conditional-write';
import { fenceOrReadBack, fenceToken, notFenced } from './fences';
import { ATTR } from './item-attributes';
import { toStoredSession } from './item-codec';
import { isConditionFailure, itemOfConditionFailure, mayHaveApplied } from './store-errors';
import { Item, SessionTables, StoreIo, TableRef, unlessMissing } from './store-io';
import { UpdateExpressionBuilder } from './update-expression';

/**
 * `old`: the item as it was deleted, when the answer said (the split layout finds its parts there).
 * `ambiguous`: the item is gone, and an attempt of ours may have deleted it, or another request did (a logout, or
 * regenerate() retiring it after recording where it went): callers that must know who ended it treat it as gone.
 */
export type Deleted = { readonly deleted: boolean; readonly old?: Item; readonly ambiguous?: boolean } | { readonly changed: Item };

/**
 * Deletes a session from every table it may be in: the table, or under
 * rotation the previous period's table and then the current one.
 *
 * Older tables go first: a write that finds no item in the current table moves
 * the previous table's copy forward, so deleting the current copy first would
 * let a concurrent write resurrect the older one (with stale data). What is
 * left is a write whose read of the previous table precedes our first delete
 * and whose copy lands after our last one.
 *
 * With `expectedVersion` (regenerate(): retire the item only if nobody wrote
 * since the load) the current copy must have exactly that version. An older
 * table's copy is deleted when its version is at most that: a copy left behind
 * by a move is never newer than the live item, while a newer one means a write
 * landed there after the load, before the period ended.
 */
export async function destroySession(io: StoreIo, tables: SessionTables, key: string, expectedVersion?: number): Promise<DestroyOutcome> {
  const [current, ...older] = tables;
  let destroyed = false;
  for (const table of older) {
    const outcome = await deleteIn(io, table, io.keyOf(key), expectedVersion === undefined ? undefined : { op: '<=', version: expectedVersion });
    if ('changed' in outcome) {
      // The live copy may be in the current table by now: report that one.
      const live = await unlessMissing(current, undefined, () => io.read(current.name, io.keyOf(key), true));
      return { status: 'changed', current: toStoredSession(live ?? outcome.changed) };
    }
    destroyed ||= outcome.deleted;
  }
  const outcome = await deleteIn(io, current, io.keyOf(key), expectedVersion === undefined ? undefined : { op: '=', version: expectedVersion });
  if ('changed' in outcome) return { status: 'changed', current: toStoredSession(outcome.changed) };
  // Gone, but maybe not by us: a logout then looks where the session went, a retiring move gives up (409).
  if (outcome.ambiguous === true) return { status: 'gone', ambiguous: true };
  return destroyed || outcome.deleted ? { status: 'destroyed' } : { status: 'gone' };
}

/**
 * One DeleteItem. A refused condition returns the item as it is (read in the
 * same call). When an attempt may have been applied and the call then failed,
 * the delete is fenced (or the item read back): gone means the delete (ours, or
 * another request's with the same effect) happened, and is not reported as a
 * failure. `guard`: delete only while the item's version (or another attribute) compares so with the given value: e.g.
 * `{ op: '=', version: principal, attribute: ATTR.principal }` deletes a session only while it is that user's.
 */
export async function deleteIn(io: StoreIo, table: TableRef, itemKey: Item, guard?: { op: '=' | '<='; version: number | string; attribute?: string }): Promise<Deleted> {
  // Fenced like every write (fences.ts): a delete whose answer was lost must not land later, over a session written since.
  const token = nextWriteToken();
  const u = new UpdateExpressionBuilder();
  const condition = [...(guard ? [`${u.name(guard.attribute ?? ATTR.version)} ${guard.op} ${u.value(guard.version)}`] : []), notFenced(u, token)].join(' AND ');
  return unlessMissing<Deleted>(table, { deleted: false }, async () => {
    try {
      const output = await io.call(table.name, 'DeleteItem', io.writeTimeout, (o) =>
        io.documents.send(new DeleteCommand({
          TableName: table.name,
          Key: itemKey,
          ReturnValues: 'ALL_OLD',
          ConditionExpression: condition,
          ExpressionAttributeNames: u.names,
          ExpressionAttributeValues: u.values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }), o));
      if (earlierAttemptMayLand(output)) await fenceToken(io, table.name, itemKey, token);
      return output.Attributes === undefined ? { deleted: false } : { deleted: true, old: output.Attributes };
    } catch (e) {
      if (isConditionFailure(e)) {
        if (mayHaveApplied(e)) await fenceToken(io, table.name, itemKey, token);
        const changed = itemOfConditionFailure(e);
        if (changed) return { changed };
        // No item fails the condition too: a session already gone, or deleted by an
        // earlier attempt of this very call whose answer was lost (then it is ours).
        return mayHaveApplied(e) ? { deleted: true, ambiguous: true } : { deleted: false };
      }
      if (!mayHaveApplied(e)) throw e;
      // The item gone (by the fence, or a read-back when the fence failed too) means the delete happened.
      const after = await fenceOrReadBack(io, table.name, itemKey, token);
      if (after === undefined || after.item !== undefined) throw e;
      return { deleted: true, ambiguous: true };
    }
  });
}
