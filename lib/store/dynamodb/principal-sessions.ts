import { inFlight } from '../../core/in-flight';
import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { jitteredDelay, sleep } from '../../core/backoff';
import type { Logger } from '../../core/logger';
import type { PrincipalSession, PrincipalSessionQuery } from '../../core/session-store';
import { SessionStoreError, SessionStoreUnavailableError, TableNotFoundError } from '../../core/errors';
import { hasExpired } from '../../core/expiry';
import { isStorageKey } from '../../core/ids';
import { ATTR, LEGACY_PRINCIPAL_INDEX, PRINCIPAL_INDEX } from './item-attributes';
import { deleteIn } from './session-deletes';
import { partKeyOf, registryOf } from './split-items';
import { Item, SessionTables, StoreIo, TableRef, unlessMissing } from './store-io';

/** BatchWriteItem's limit. */
const BATCH = 25;
/** Batches in flight per table: fast without bursting a provisioned table into throttling. */
const IN_FLIGHT = 4;
/**
 * Conditional DeleteItems in flight per table in destroyByPrincipal: each is one item (BatchWriteItem cannot
 * carry a condition), so more of them than batches, still without bursting a provisioned table.
 */
const DELETES_IN_FLIGHT = 16;
/** Rounds of retrying the deletes DynamoDB left unprocessed (throttling) before giving up with a 503. */
const MAX_UNPROCESSED_ROUNDS = 8;

/**
 * Queries the sparse principal index (eventually consistent, as every index
 * read is: a session created a moment ago may show up a moment later).
 * With `limit`, at most that many index entries are read (Query's Limit), in the index's order.
 */
export async function findByPrincipal(io: StoreIo, tables: SessionTables, principal: string, now: number, query: PrincipalSessionQuery = {}): Promise<PrincipalSession[]> {
  const found = new Map<string, PrincipalSession>();
  let left = query.limit ?? Infinity;
  for (const table of tables) {
    if (left <= 0) break;
    await unlessMissing(table, undefined, async () => {
      for await (const items of indexPages(io, table.name, principal, () => left)) {
        left -= items.length;
        for (const item of items) {
          const key = ownKey(io, item);
          // Under rotation a session moved forward is in both tables: the current one, read first, wins.
          if (key === undefined || Number(item[ATTR.expiresAt]) * 1000 <= now || found.has(key)) continue;
          found.set(key, {
            key,
            createdAt: Number(item[ATTR.createdAt]),
            lastAccessedAt: Number(item[ATTR.lastAccessedAt]),
            expiresAt: Number(item[ATTR.expiresAt]),
            ...(typeof item[ATTR.userAgent] === 'string' && { userAgent: item[ATTR.userAgent] as string }),
            ...(typeof item[ATTR.ip] === 'string' && { ip: item[ATTR.ip] as string }),
          });
        }
      }
    });
  }
  return [...found.values()];
}

/**
 * "Sign out everywhere": pages through the principal index and deletes each
 * page's sessions while the next page is read. The index may lag a change of
 * user (setPrincipal() on the same session), so each session goes with a
 * DeleteItem conditioned on the user the index named (`principal = :p`), a
 * few in flight: a session that is someone else's by now stays, and is not
 * counted. In the split layout each head deleted returns its part registry,
 * and its parts go after it with BatchWriteItem (25 per call). Expired
 * sessions of the principal go too.
 *
 * The work grows with the sessions: a DeleteItem per session (10,000
 * sessions: 10,000 calls, 16 in flight), plus in the split layout about one
 * BatchWriteItem per 25 parts, and a Query per megabyte of index entries,
 * each call under the write or read deadline. Memory stays at one index page
 * (under rotation, plus the keys ended, to count a moved session once). A
 * failure part-way (503) leaves what was deleted deleted; calling again
 * finishes the job. Resolves with how many sessions this call ended.
 */
export async function destroyByPrincipal(io: StoreIo, tables: SessionTables, principal: string, logger: Logger): Promise<number> {
  const [current, ...older] = tables;
  /** Under rotation: sessions deleted from an older table only, which count once the current table is checked. */
  const olderOnly = new Set<string>();
  let count = 0;
  try {
    // Older tables first, as destroySession does: a request that moves a session forward
    // re-checks the previous table after copying, so deleting the original first wins that race.
    for (const table of [...older].reverse()) {
      await deleteListed(io, table, principal, logger, (key) => olderOnly.add(key));
    }
    await deleteListed(io, current, principal, logger, (key) => {
      olderOnly.delete(key);
      count++;
    });
    // A copy left in an older table by a move forward is not the session: it counts only when the current
    // table holds no copy of another user (who set that principal after the move).
    const counted = await inFlight([...olderOnly], DELETES_IN_FLIGHT, async (key) => {
      const live = await unlessMissing(current, undefined, () => io.read(current.name, io.keyOf(key), true));
      return live === undefined || live[ATTR.principal] === principal;
    });
    return count + counted.filter(Boolean).length;
  } catch (e) {
    throw finishHint(e);
  }
}

/** Deletes the sessions the index of `table` lists for `principal`, page by page; `ended` hears of each one deleted. */
function deleteListed(io: StoreIo, table: TableRef, principal: string, logger: Logger, ended: (key: string) => void): Promise<void> {
  return unlessMissing(table, undefined, async () => {
    const pages = indexPages(io, table.name, principal);
    let next = pages.next();
    for (;;) {
      const page = await next;
      if (page.done) return;
      next = pages.next(); // read ahead while this page is deleted
      next.catch(() => undefined); // a failure below leaves it unawaited: not an unhandled rejection
      const keys = [...new Set(page.value.map((item) => ownKey(io, item)).filter((key): key is string => key !== undefined))];
      const outcomes = await inFlight(keys, DELETES_IN_FLIGHT, async (key) => ({ key, outcome: await deleteOwned(io, table, key, principal) }));
      const gone = outcomes.flatMap(({ key, outcome }) => (typeof outcome === 'object' ? [{ key, old: outcome.old }] : []));
      await deleteParts(io, table.name, gone.flatMap(({ key, old }) => partKeysOf(io, key, old)), logger);
      for (const { key } of gone) ended(key);
    }
  });
}

/**
 * Ends one session while it belongs to `principal` (the account controls' ends: destroyOther(),
 * destroyOthers(), the session limit): a DeleteItem conditioned on the principal in each table it may be in
 * (older first, as destroySession), then its parts. True when a live session of that user ended.
 */
export async function destroyOwnedSession(io: StoreIo, tables: SessionTables, key: string, principal: string, now: number, logger: Logger): Promise<boolean> {
  const [current, ...older] = tables;
  let olderLive = false;
  for (const table of [...older].reverse()) {
    const outcome = await deleteOwned(io, table, key, principal);
    if (typeof outcome === 'object') olderLive ||= liveAt(outcome.old, now);
  }
  const outcome = await deleteOwned(io, current, key, principal);
  if (typeof outcome !== 'object') return outcome === 'gone' && olderLive; // 'theirs': the current copy is another user's, the session stays
  await deleteParts(io, current.name, partKeysOf(io, key, outcome.old), logger);
  return liveAt(outcome.old, now);
}

/**
 * Deletes the session's item (its head) while its principal is `principal`: `old` is the item as it was
 * (empty when a lost answer's retry found it deleted already); 'theirs': it belongs to someone else now.
 */
async function deleteOwned(io: StoreIo, table: TableRef, key: string, principal: string): Promise<{ old: Item } | 'theirs' | 'gone'> {
  const outcome = await deleteIn(io, table, io.keyOf(key), { op: '=', version: principal, attribute: ATTR.principal });
  if ('changed' in outcome) return 'theirs';
  return outcome.deleted ? { old: outcome.old ?? {} } : 'gone';
}

/** Whether a deleted item was a live session (one whose times are unknown was listed live a moment ago). */
function liveAt(item: Item, now: number): boolean {
  if (item[ATTR.expiresAt] === undefined) return true;
  const absolute: unknown = item[ATTR.absoluteExpiresAt];
  return !hasExpired({ expiresAt: Number(item[ATTR.expiresAt]), absoluteExpiresAt: absolute === undefined ? undefined : Number(absolute) }, now);
}

/** A deleted head's parts (split layout), from the registry the delete returned; none for a one-item session. */
function partKeysOf(io: StoreIo, key: string, head: Item): Item[] {
  return [...registryOf(head).versions.keys()].map((name) => io.partKeyOf(key, partKeyOf(name)));
}

/** The head is gone, so the session is: parts left behind are unreadable, and TTL removes them. */
async function deleteParts(io: StoreIo, table: string, parts: readonly Item[], logger: Logger): Promise<void> {
  if (parts.length === 0) return;
  await deleteItems(io, table, parts).catch((e: unknown) =>
    logger.warn(`sessions ended; ${parts.length} of their part items stay until TTL removes them: ${(e as Error).message}`));
}

/** A store failure part-way through destroyByPrincipal says how to finish the job. */
function finishHint(e: unknown): unknown {
  if (!(e instanceof SessionStoreUnavailableError) || e instanceof TableNotFoundError) return e;
  return new SessionStoreUnavailableError(
    `${e.message} The sessions deleted so far stay deleted: call destroyByPrincipal again to finish the job.`,
    { cause: e.cause, retryAfterSeconds: Number(e.headers['Retry-After'] ?? 1), throttled: e.throttled },
  );
}

/** The index's pages; `left()` (when given) is how many entries may still be read, which caps each page. */
async function* indexPages(io: StoreIo, table: string, principal: string, left: () => number = () => Infinity): AsyncGenerator<Item[]> {
  let start: Item | undefined;
  do {
    const limit = left();
    if (limit <= 0) return;
    const page = await queryIndex(io, table, principal, start, Number.isFinite(limit) ? limit : undefined);
    yield page.Items ?? [];
    start = page.LastEvaluatedKey;
  } while (start);
}

/**
 * One page of the principal index: principal-sessions, or principal-index on tables made before it (the one
 * ready() found, or the one that answered last). When a table's index changed under a running process (moved to
 * principal-sessions and the old one dropped, or an older rotated table that only has principal-index), the
 * other name is tried once and remembered for that table.
 */
async function queryIndex(io: StoreIo, table: string, principal: string, start: Item | undefined, limit?: number): Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }> {
  const index = io.principalIndexes.get(table) ?? PRINCIPAL_INDEX;
  try {
    return await queryIndexNamed(io, table, index, principal, start, limit);
  } catch (e) {
    if (!isMissingIndex(e)) throw e;
    const other = index === PRINCIPAL_INDEX ? LEGACY_PRINCIPAL_INDEX : PRINCIPAL_INDEX;
    let page: { Items?: Item[]; LastEvaluatedKey?: Item };
    try {
      page = await queryIndexNamed(io, table, other, principal, start, limit);
    } catch (second) {
      if (second instanceof SessionStoreUnavailableError) throw second; // a 503 to retry, not a missing index
      throw e; // neither index: the first answer says what is missing
    }
    io.principalIndexes.set(table, other);
    return page;
  }
}

function queryIndexNamed(io: StoreIo, table: string, index: string, principal: string, start: Item | undefined, limit?: number): Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }> {
  return io.call(table, 'Query', io.readTimeout, (o) =>
    io.documents.send(new QueryCommand({
      TableName: table,
      IndexName: index,
      KeyConditionExpression: '#p = :p',
      ExpressionAttributeNames: { '#p': ATTR.principal },
      ExpressionAttributeValues: { ':p': principal },
      ...(start && { ExclusiveStartKey: start }),
      ...(limit !== undefined && { Limit: limit }),
    }), o));
}

/** DynamoDB's answer to a Query of an index the table does not have, or has not finished building. */
function isMissingIndex(e: unknown): boolean {
  const cause = e instanceof SessionStoreError ? (e.cause as { name?: string; message?: string } | undefined) : undefined;
  return cause?.name === 'ValidationException' && /specified index|backfilling/i.test(cause.message ?? '');
}

/**
 * The session key without the prefix; undefined for another app's session in a shared table (keyPrefix).
 * A prefix alone is not enough: '' is a prefix of every key, and 'a' of 'ab:'. What follows it must be a key.
 */
function ownKey(io: StoreIo, item: Item): string | undefined {
  const stored = String(item[ATTR.key]);
  const key = stored.slice(io.keyPrefix.length);
  return stored.startsWith(io.keyPrefix) && isStorageKey(key) ? key : undefined;
}

/** Deletes items by key with BatchWriteItem, 25 per call and a few calls in flight. */
export async function deleteItems(io: StoreIo, table: string, keys: readonly Item[]): Promise<void> {
  const batches: Item[][] = [];
  for (let i = 0; i < keys.length; i += BATCH) batches.push(keys.slice(i, i + BATCH));
  let taken = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    try {
      while (!failed && taken < batches.length) await deleteBatch(io, table, batches[taken++]!);
    } catch (e) {
      failed = true; // the caller gets this error now: the other workers start no new batch behind its back
      throw e;
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, batches.length) }, worker));
}

/** Deletes are idempotent, so a batch whose answer was lost is simply sent again by the SDK. */
async function deleteBatch(io: StoreIo, table: string, keys: readonly Item[]): Promise<void> {
  let pending = keys.map((key) => ({ DeleteRequest: { Key: key } }));
  for (let round = 0; ; round++) {
    const { UnprocessedItems } = await io.call(table, 'BatchWriteItem', io.writeTimeout, (o) =>
      io.documents.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }), o));
    const left = UnprocessedItems?.[table] ?? [];
    if (left.length === 0) return;
    if (round + 1 >= MAX_UNPROCESSED_ROUNDS) {
      throw new SessionStoreUnavailableError(
        `DynamoDB left ${left.length} session deletes unprocessed on "${table}" after ${MAX_UNPROCESSED_ROUNDS} tries (throttled). ` +
          `The sessions deleted so far stay deleted: call destroyByPrincipal again, or raise the table's write capacity.`,
        { retryAfterSeconds: 2, throttled: true },
      );
    }
    pending = left.map((request) => ({ DeleteRequest: { Key: request.DeleteRequest!.Key! } }));
    await sleep(jitteredDelay(round, 50, 1000));
  }
}
