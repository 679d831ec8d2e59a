import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../tools/dynamodb-local';
import { DynamoDbStore, DynamoDbStoreOptions } from '../../lib';
import { LAYOUT_OPTIONS, logicalItems } from './layout';

export { LAYOUT, LAYOUT_OPTIONS, RAW_HEAD_FIELDS, rawKey, READ_CALL } from './layout';

export function endpoint(): string {
  const value = process.env['DYNAMODB_ENDPOINT'];
  if (!value) throw new Error('DYNAMODB_ENDPOINT is not set: run the specs through jest (globalSetup starts DynamoDB Local)');
  return value;
}

export function randomTableName(prefix = 'spec'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** Records the name of every command the client sends: what the cost assertions count. */
export class CallLog {
  readonly calls: string[] = [];
  count(command?: string): number {
    return command === undefined ? this.calls.length : this.calls.filter((c) => c === command).length;
  }
  clear(): void {
    this.calls.length = 0;
    this.inputs.length = 0;
  }
  /** Input of each call, e.g. to read an UpdateExpression. */
  readonly inputs: Array<{ command: string; input: Record<string, unknown> }> = [];
}

export function localClient(log?: CallLog): DynamoDBClient {
  const client = new DynamoDBClient({ endpoint: endpoint(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  if (log) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName).replace(/Command$/, '');
        log.calls.push(command);
        log.inputs.push({ command, input: args.input as Record<string, unknown> });
        return next(args);
      },
      { step: 'initialize', name: 'callLog' },
    );
  }
  return client;
}

/** A store on a fresh random table; the returned log counts its DynamoDB calls after the table is ready. */
export async function storeOnNewTable(options: DynamoDbStoreOptions = {}): Promise<{ store: DynamoDbStore; log: CallLog; tableName: string; raw: DynamoDBClient }> {
  const log = new CallLog();
  const tableName = options.tableName ?? randomTableName();
  const store = new DynamoDbStore({ ...LAYOUT_OPTIONS, ...options, tableName, client: localClient(log) });
  await store.ready();
  log.clear();
  return { store, log, tableName, raw: localClient() };
}

/** Every item of the table as stored (in the split layout: heads and parts apart). */
export async function scanItems(tableName: string): Promise<Array<Record<string, unknown>>> {
  const client = localClient();
  try {
    const items: Array<Record<string, unknown>> = [];
    let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(start && { ExclusiveStartKey: start }) }));
      items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  } finally {
    client.destroy();
  }
}

/**
 * The table's sessions, one item each whatever the layout: a split session's head with its
 * parts' values in `data` (see layout.ts). Parts without a head are listed as they are.
 */
export async function scanTable(tableName: string): Promise<Array<Record<string, unknown>>> {
  return logicalItems(await scanItems(tableName));
}

/** One session as a single item (a split session put together from its head and parts), read strongly. */
export async function getItem(tableName: string, key: string): Promise<Record<string, unknown> | undefined> {
  const client = localClient();
  try {
    const { Items } = await client.send(new QueryCommand({
      TableName: tableName, ConsistentRead: true,
      KeyConditionExpression: '#k = :k', ExpressionAttributeNames: { '#k': 'sessionId' }, ExpressionAttributeValues: { ':k': { S: key } },
    }));
    const items = (Items ?? []).map((item) => unmarshall(item));
    return logicalItems(items).find((item) => item['part'] === undefined || item['part'] === '#');
  } finally {
    client.destroy();
  }
}

export async function dropTable(tableName: string): Promise<void> {
  const client = localClient();
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
  } catch {
    // already gone
  } finally {
    client.destroy();
  }
}

/** A fresh table for a describe block: created before its tests, dropped after them. */
export function tableForSuite(options: DynamoDbStoreOptions = {}): { readonly store: DynamoDbStore; readonly tableName: string } {
  const suite = {} as { store: DynamoDbStore; tableName: string };
  beforeAll(async () => {
    Object.assign(suite, await storeOnNewTable(options));
  });
  afterAll(() => dropTable(suite.tableName));
  return suite;
}

/**
 * A readable session key of the real shape (43 base64url characters, as the core's SHA-256 keys): the store's
 * principal index skips keys of any other shape, since they belong to another app sharing the table (keyPrefix).
 */
export function storageKey(name: string): string {
  return name.padEnd(43, '_');
}

/** The name storageKey() made a key of (with any keyPrefix in front kept). */
export function readableKey(key: unknown): string {
  return String(key).replace(/_+$/, '');
}
