import { BatchWriteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { jitteredDelay, sleep } from '../../core/backoff';
import type { PrincipalSession } from '../../core/session-store';
import { SessionStoreError, SessionStoreUnavailableError } from '../../core/errors';
import { isStorageKey } from '../../core/ids';
import { ATTR, LEGACY_PRINCIPAL_INDEX, PRINCIPAL_INDEX } from './item-attributes';
import { partKeyOf } from './split-items';
import { Item, SessionTables, StoreIo, unlessMissing } from './store-io';

/** BatchWriteItem's limit. */
const BATCH = 25;
/** Batches in flight per table: fast without bursting a provisioned table into throttling. */
const IN_FLIGHT = 4;
/** Rounds of retrying the deletes DynamoDB left unprocessed (throttling) before giving up with a 503. */
const MAX_UNPROCESSED_ROUNDS = 8;

/**
 * Queries the sparse principal index (eventually consistent, as every index
 * read is: a session created a moment ago may show up a moment later).
 */
export async function findByPrincipal(io: StoreIo, tables: SessionTables, principal: string, now: number): Promise<PrincipalSession[]> {
  const found = new Map<string, PrincipalSession>();
  for (const table of tables) {
    await unlessMissing(table, undefined, async () => {
      for await (const items of indexPages(io, table.name, principal)) {
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
 * page's sessions with BatchWriteItem, 25 per call and a few calls in flight,
 * while the next page is read. Expired sessions of the principal go too.
 *
 * The work grows with the sessions: about N / 25 BatchWriteItem calls (10,000
 * sessions: 400 calls, 100 rounds of 4) and a Query per megabyte of index
 * keys, each call under the write or read deadline. Memory stays at one index
 * page (under rotation, plus the keys seen, to count a moved session once).
 * A failure part-way (503) leaves what was deleted deleted; calling again
 * finishes the job. Resolves with how many sessions were deleted.
 */
export async function destroyByPrincipal(io: StoreIo, tables: SessionTables, principal: string): Promise<number> {
  const seen = new Set<string>();
  let count = 0;
  // Older tables first, as destroySession does: a request that moves a session forward
  // re-checks the previous table after copying, so deleting the original first wins that race.
  for (const table of [...tables].reverse()) {
    await unlessMissing(table, undefined, async () => {
      const pages = indexPages(io, table.name, principal);
      let next = pages.next();
      for (;;) {
        const page = await next;
        if (page.done) return;
        next = pages.next(); // read ahead while this page is deleted
        next.catch(() => undefined); // a failure below leaves it unawaited: not an unhandled rejection
        const owned = page.value.map((item) => ({ item, key: ownKey(io, item) })).filter((o): o is { item: Item; key: string } => o.key !== undefined);
        const keys = owned.map((o) => o.key);
        await deleteItems(io, table.name, owned.flatMap((o) => itemKeysOf(io, o.key, o.item)));
        for (const key of keys) {
          if (tables.length === 1 || !seen.has(key)) count++;
          if (tables.length > 1) seen.add(key);
        }
      }
    });
  }
  return count;
}

async function* indexPages(io: StoreIo, table: string, principal: string): AsyncGenerator<Item[]> {
  let start: Item | undefined;
  do {
    const page = await queryIndex(io, table, principal, start);
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
async function queryIndex(io: StoreIo, table: string, principal: string, start: Item | undefined): Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }> {
  const index = io.principalIndexes.get(table) ?? PRINCIPAL_INDEX;
  try {
    return await queryIndexNamed(io, table, index, principal, start);
  } catch (e) {
    if (!isMissingIndex(e)) throw e;
    const other = index === PRINCIPAL_INDEX ? LEGACY_PRINCIPAL_INDEX : PRINCIPAL_INDEX;
    let page: { Items?: Item[]; LastEvaluatedKey?: Item };
    try {
      page = await queryIndexNamed(io, table, other, principal, start);
    } catch (second) {
      if (second instanceof SessionStoreUnavailableError) throw second; // a 503 to retry, not a missing index
      throw e; // neither index: the first answer says what is missing
    }
    io.principalIndexes.set(table, other);
    return page;
  }
}

function queryIndexNamed(io: StoreIo, table: string, index: string, principal: string, start: Item | undefined): Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }> {
  return io.call(table, 'Query', io.readTimeout, (o) =>
    io.documents.send(new QueryCommand({
      TableName: table,
      IndexName: index,
      KeyConditionExpression: '#p = :p',
      ExpressionAttributeNames: { '#p': ATTR.principal },
      ExpressionAttributeValues: { ':p': principal },
      ...(start && { ExclusiveStartKey: start }),
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

/** A session's items: the one item, or in the split layout its head and the parts its registry (projected into the index) names. */
function itemKeysOf(io: StoreIo, key: string, indexItem: Item): Item[] {
  const parts = Object.keys((indexItem[ATTR.parts] ?? {}) as Record<string, unknown>);
  return [io.keyOf(key), ...parts.map((name) => io.partKeyOf(key, partKeyOf(name)))];
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
