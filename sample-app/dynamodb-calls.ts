/**
 * DEMO AID: not part of dynamo-session, and not needed to use it. Leave this
 * file (and the few lines marked "demo aid" that call it) out when you copy the sample.
 *
 * It lets the sample page show what the library costs: for each request the
 * page makes, the DynamoDB calls the session store made while serving it, with
 * the capacity DynamoDB reports for them and the session attributes each
 * UpdateItem names. How:
 *
 * - `recordDynamoDbCalls(client)` puts a middleware on the store's own SDK
 *   client (sample-app/dynamodb-target.ts). It asks DynamoDB for the consumed
 *   capacity of item operations (`ReturnConsumedCapacity: 'INDEXES'`: the
 *   total, and the part spent on indexes) and notes every call made inside a request's scope.
 * - `withDynamoDbCallLog(requestId, next)` opens that scope (an
 *   AsyncLocalStorage) around the rest of one HTTP request: the Koa app's first
 *   middleware, and `app.use` ahead of Nest's own middleware.
 * - The page sends a random id in the `X-Sample-Request` header and then reads
 *   `GET /api/calls/<id>` (a route that touches no session), answered by
 *   `dynamoDbCallsOf(id)`. Only the most recent ids are kept.
 *
 * That route answers whoever knows a request id (operations, capacity and
 * attribute names; never values): fine for a demo on your machine, one more
 * reason to leave it out of an app.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ConsumedCapacity, DynamoDBClient, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-dynamodb';
import type { SerializeMiddleware } from '@smithy/types';

/** One DynamoDB call, as the page's panel shows it. */
export interface DynamoDbCall {
  /** 'GetItem', 'UpdateItem', 'DeleteItem', 'Query', 'BatchWriteItem'. */
  readonly operation: string;
  /** Read capacity units DynamoDB reported as consumed (reads only; absent when it reported none, e.g. on a refused write). */
  readUnits?: number;
  /** Write capacity units DynamoDB reported as consumed (writes only). */
  writeUnits?: number;
  /** The part of those units spent on secondary indexes, by index (a session with a principal is in principal-index). */
  indexUnits?: Record<string, number>;
  /** UpdateItem: the session attributes (under the item's `data` map) it sets. */
  readonly sets?: readonly string[];
  /** UpdateItem: the session attributes it removes. */
  readonly removes?: readonly string[];
  /** UpdateItem: true when it writes the whole `data` map (a new session), so `sets` are all its attributes. */
  readonly wholeSession?: boolean;
  /** Split layout: the attribute whose own item (part) this UpdateItem writes; absent for the head (or a single-layout item). */
  readonly part?: string;
  /** The error's name when the call failed, e.g. ConditionalCheckFailedException. */
  failed?: string;
}

/** The request header the page sends its id in. */
export const CALLS_HEADER = 'x-sample-request';

/** How many requests' calls are kept: the page reads its request's right after the answer. */
const KEEP = 200;
/** What the page sends: a short random token. Anything else is not recorded. */
const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;
/** Operations that take ReturnConsumedCapacity; the table checks at startup (DescribeTable...) do not. */
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
/** The item attribute that holds the session's attributes (docs/dynamodb.md, "Storage layout"). */
const DATA = 'data';
/** Split layout: the head's registry of attributes in items of their own, and a part item's sort key and value. */
const PARTS = 'parts';
const PART_KEY = 'part';
const PART_VALUE = 'value';
const MIDDLEWARE_NAME = 'sampleDynamoDbCalls';

const scope = new AsyncLocalStorage<DynamoDbCall[]>();
const recent = new Map<string, DynamoDbCall[]>();

/**
 * Runs `next` (the rest of one HTTP request) in a scope that collects the
 * DynamoDB calls made inside it, kept under `requestId` when the page sent one.
 */
export function withDynamoDbCallLog<T>(requestId: unknown, next: () => T): T {
  const calls: DynamoDbCall[] = [];
  if (typeof requestId === 'string' && REQUEST_ID.test(requestId)) {
    recent.delete(requestId);
    recent.set(requestId, calls);
    if (recent.size > KEEP) recent.delete(recent.keys().next().value!);
  }
  // A scope even without an id: nothing from an earlier request can land in this one.
  return scope.run(calls, next);
}

/** The calls recorded for a request id; undefined when it is unknown (never sent, or long forgotten). */
export function dynamoDbCallsOf(requestId: string): readonly DynamoDbCall[] | undefined {
  return recent.get(requestId);
}

/** Adds the recording middleware to a DynamoDB client (the session store's: `store.client`). Idempotent. */
export function recordDynamoDbCalls(client: DynamoDBClient): void {
  const middleware: SerializeMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next, context) => async (args) => {
    const calls = scope.getStore();
    const operation = String(context.commandName).replace(/Command$/, '');
    if (!calls || !(READS.has(operation) || WRITES.has(operation))) return next(args);
    const input = args.input as Record<string, unknown>;
    const call: DynamoDbCall = { operation, ...(operation === 'UpdateItem' && attributesOfUpdate(input)) };
    calls.push(call); // in the order the calls start
    try {
      const result = await next({ ...args, input: { ...input, ReturnConsumedCapacity: 'INDEXES' } });
      const consumed = (result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] }).ConsumedCapacity;
      const all = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed]; // BatchWriteItem: one per table
      const units = sum(all.map((c) => c.CapacityUnits));
      if (units !== undefined) {
        if (READS.has(operation)) call.readUnits = units;
        else call.writeUnits = units;
      }
      const indexes = all.flatMap((c) => Object.entries({ ...c.GlobalSecondaryIndexes, ...c.LocalSecondaryIndexes }));
      if (indexes.length > 0) {
        call.indexUnits = {};
        for (const [name, capacity] of indexes) call.indexUnits[name] = (call.indexUnits[name] ?? 0) + (capacity.CapacityUnits ?? 0);
      }
      return result;
    } catch (error) {
      const { name } = (error ?? {}) as { name?: unknown };
      call.failed = typeof name === 'string' ? name : 'Error';
      throw error;
    }
  };
  // Early in the serialize step: once per call (the SDK's retries happen further in), and before the input is serialized.
  client.middlewareStack.add(middleware, { step: 'serialize', priority: 'high', name: MIDDLEWARE_NAME, override: true });
}

function sum(units: ReadonlyArray<number | undefined>): number | undefined {
  const reported = units.filter((u): u is number => typeof u === 'number');
  return reported.length === 0 ? undefined : reported.reduce((a, b) => a + b, 0);
}

/**
 * The session attributes an UpdateExpression names: the paths under `data` in
 * its SET and REMOVE clauses, through the ExpressionAttributeNames placeholders
 * (the library writes every name as one). `SET data = :v` writes a whole new session.
 */
function attributesOfUpdate(input: Record<string, unknown>): Pick<DynamoDbCall, 'sets' | 'removes' | 'wholeSession' | 'part'> {
  const sortKey = (input['Key'] as Record<string, unknown> | undefined)?.[PART_KEY];
  // A part item (split layout, sort key 'a#<name>') holds one attribute: a write there sets it.
  if (typeof sortKey === 'string' && sortKey.startsWith('a#')) {
    const writesValue = typeof input['UpdateExpression'] === 'string' && Object.values((input['ExpressionAttributeNames'] ?? {}) as Record<string, string>).includes(PART_VALUE);
    return { sets: writesValue ? [sortKey.slice(2)] : [], removes: [], part: sortKey.slice(2) };
  }
  const expression = typeof input['UpdateExpression'] === 'string' ? input['UpdateExpression'] : '';
  const names = (input['ExpressionAttributeNames'] ?? {}) as Record<string, string>;
  const values = (input['ExpressionAttributeValues'] ?? {}) as Record<string, unknown>;
  const sets: string[] = [];
  const removes: string[] = [];
  let wholeSession = false;
  const resolve = (path: string): string[] => path.split('.').map((part) => names[part] ?? part);
  // Clauses: "SET a = :v0, b = :v1 REMOVE c ADD d :v2"; the library builds no functions, but a comma inside one does no harm here.
  for (const clause of expression.split(/(?=\b(?:SET|REMOVE|ADD|DELETE)\s)/)) {
    const keyword = clause.trimStart().split(/\s/, 1)[0]!.toUpperCase();
    const body = clause.trimStart().slice(keyword.length);
    if (keyword === 'SET') {
      for (const [, path, value] of body.matchAll(/(#[\w]+(?:\.#[\w]+)*)\s*=\s*(:[\w]+)?/g)) {
        const [top, attribute] = resolve(path!);
        // Split layout: the head claims a part for an attribute whose value goes to its own item.
        if (top === PARTS && attribute !== undefined && !wholeSession) sets.push(attribute);
        if (top !== DATA) continue;
        if (attribute !== undefined) sets.push(attribute);
        else {
          wholeSession = true;
          sets.push(...Object.keys(mapValue(value === undefined ? undefined : values[value])));
        }
      }
    } else if (keyword === 'REMOVE') {
      for (const [path] of body.matchAll(/#[\w]+(?:\.#[\w]+)*/g)) {
        const [top, attribute] = resolve(path);
        if (top === DATA && attribute !== undefined) removes.push(attribute);
      }
    }
  }
  return { sets, removes, ...(wholeSession && { wholeSession }) };
}

/** The entries of a map value, as the document client passes it (a plain object) or marshalled ({ M: {...} }). */
function mapValue(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object') return {};
  const marshalled = (value as { M?: unknown }).M;
  return Object.keys(value).length === 1 && marshalled !== null && typeof marshalled === 'object' ? (marshalled as Record<string, unknown>) : (value as Record<string, unknown>);
}

/** The body of `GET /api/calls/<id>` for both apps: the calls, or a 404 when the id is unknown. */
export function callsResponse(requestId: string): { status: 200; body: { calls: readonly DynamoDbCall[] } } | { status: 404; body: { message: string } } {
  const calls = dynamoDbCallsOf(requestId);
  return calls
    ? { status: 200, body: { calls } }
    : { status: 404, body: { message: 'No DynamoDB calls are recorded under this request id (it was never sent, or is too old).' } };
}
