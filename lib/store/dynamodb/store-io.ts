import type { DynamoDBDocumentClient, NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { TableNotFoundError } from '../../core/errors';
import type { CallDeadline } from './deadlines';

export type SendOptions = { abortSignal: CallDeadline };
export type Item = Record<string, NativeAttributeValue>;

/**
 * A table a session may be in. Under rotation the previous period's table may
 * not exist (the first period after rotation is switched on, every node down
 * for a period, clock skew), so it `mayBeMissing`; the current table may not.
 */
export interface TableRef {
  readonly name: string;
  readonly mayBeMissing: boolean;
}

/** Where a session may be: the current table first, then (rotation) the previous one. */
export type SessionTables = readonly [current: TableRef, ...older: TableRef[]];

/** What the store's parts share: one deadline-bounded, typed DynamoDB call, and the key layout. */
export interface StoreIo {
  readonly documents: DynamoDBDocumentClient;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly keyPrefix: string;
  call<T>(table: string, operation: string, timeoutMs: number, send: (options: SendOptions) => Promise<T>): Promise<T>;
  /** Strongly or eventually consistent GetItem of one item, by its full key. */
  read(table: string, itemKey: Item, consistent: boolean): Promise<Item | undefined>;
  /** The key of a session's item (its head, in the split layout). */
  keyOf(key: string): Item;
  /** The key of one of a split session's part items. */
  partKeyOf(key: string, part: string): Item;
  /** Table -> the principal index it has, when that is not PRINCIPAL_INDEX (tables made before it). */
  readonly principalIndexes: Map<string, string>;
}

/** Runs `work` against `table`; a table that may be missing and is answers `empty` instead of a 503. */
export async function unlessMissing<T>(table: TableRef, empty: T, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (table.mayBeMissing && e instanceof TableNotFoundError && e.tableName === table.name) return empty;
    throw e;
  }
}
