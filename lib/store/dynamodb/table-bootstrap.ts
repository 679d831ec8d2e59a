import {
  CreateTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, TableDescription, UpdateTimeToLiveCommand, waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { SessionConfigError, TableNotFoundError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { ATTR, ItemLayout, LEGACY_PRINCIPAL_INDEX, PRINCIPAL_INDEX, PRINCIPAL_INDEX_PROJECTION } from './item-attributes';
import type { Billing } from './resolve-options';

export interface TableSpec {
  readonly tableName: string;
  /** Where a missing table was looked for, named in its error; only used when createIfNotExist is false. */
  readonly region?: string | undefined;
  /** Named in a missing-table error when it is not AWS (DynamoDB Local). */
  readonly endpoint?: string | undefined;
  readonly billing: Billing;
  readonly createIfNotExist: boolean;
  readonly readyTimeoutSeconds: number;
  /** Rotated tables are dropped whole and need no TTL. Default true. */
  readonly enableTtl?: boolean;
  /** The layout the store wants; undefined: whatever the existing table has, 'split' for a new one. */
  readonly layout?: ItemLayout | undefined;
}

/** A table's TTL as DescribeTimeToLive reports it. */
export interface TtlState {
  /** ENABLED, ENABLING, DISABLED or DISABLING. */
  readonly status: string;
  readonly attribute: string | undefined;
}

export interface TableState {
  readonly created: boolean;
  /** Read from the table's key schema (or the one it was created with). */
  readonly layout: ItemLayout;
  /** Undefined when not checked (rotated tables need no TTL) or when the check failed (then a warning was logged). */
  readonly ttl: TtlState | undefined;
  /** The principal index findByPrincipal and otherSessions() query. */
  readonly principalIndex: string;
}

/**
 * Makes sure the table exists with the right key, creating it (with TTL on
 * expiresAt) when allowed. Runs at startup only, never on a request.
 * Safe when several instances start at once: another's CreateTable is waited for.
 * An existing table's TTL is checked too: IaC may have left it out, or a first
 * start died between CreateTable and UpdateTimeToLive, and then expired sessions pile up forever.
 */
export async function ensureTable(client: DynamoDBClient, spec: TableSpec, logger: Logger): Promise<TableState> {
  const existing = await describe(client, spec.tableName);
  if (existing) {
    const layout = layoutOf(existing, spec.tableName);
    if (spec.layout !== undefined && spec.layout !== layout) throw new SessionConfigError([layoutMismatch(spec.tableName, layout, spec.layout)]);
    if (existing.TableStatus !== 'ACTIVE') await waitForActive(client, spec);
    // None at all: findByPrincipal reports the missing index when it is used.
    const principalIndex = principalIndexOf(existing) ?? PRINCIPAL_INDEX;
    if (principalIndex === LEGACY_PRINCIPAL_INDEX) logger.info(legacyIndexNote(spec.tableName));
    return { created: false, layout, principalIndex, ttl: spec.enableTtl === false ? undefined : await checkTtl(client, spec, logger) };
  }
  if (!spec.createIfNotExist) throw new TableNotFoundError(spec.tableName, spec.region, { endpoint: spec.endpoint, layout: spec.layout });
  const layout = spec.layout ?? LAYOUT_FOR_NEW_TABLES;
  logger.info(`creating DynamoDB table ${spec.tableName} (${spec.billing.mode}, ${layout} layout)`);
  try {
    await client.send(new CreateTableCommand(createTableInput({ ...spec, layout })));
  } catch (e) {
    if ((e as Error).name !== 'ResourceInUseException') throw e; // another instance is creating it
  }
  await waitForActive(client, spec);
  // Another instance may have won the race with another layout: the table decides, as for an existing one.
  const made = await ensureTable(client, { ...spec, createIfNotExist: false, enableTtl: false }, logger);
  if (spec.enableTtl === false) return { created: true, layout: made.layout, principalIndex: made.principalIndex, ttl: undefined };
  await enableTtl(client, spec.tableName);
  return { created: true, layout: made.layout, principalIndex: made.principalIndex, ttl: { status: 'ENABLED', attribute: ATTR.expiresAt } };
}

/**
 * The principal index to query: principal-sessions once it is ACTIVE (a table moving to it keeps using the
 * legacy one while it builds), else the legacy principal-index of tables made before it.
 */
export function principalIndexOf(table: TableDescription): string | undefined {
  const indexes = table.GlobalSecondaryIndexes ?? [];
  const current = indexes.find((i) => i.IndexName === PRINCIPAL_INDEX);
  if (current && (current.IndexStatus ?? 'ACTIVE') === 'ACTIVE') return PRINCIPAL_INDEX;
  if (indexes.some((i) => i.IndexName === LEGACY_PRINCIPAL_INDEX)) return LEGACY_PRINCIPAL_INDEX;
  return current ? PRINCIPAL_INDEX : undefined; // still building, and nothing else: it is the one to wait for
}

export function legacyIndexNote(tableName: string): string {
  return `DynamoDB table "${tableName}" has the ${LEGACY_PRINCIPAL_INDEX} index, which projects no client info: otherSessions() lists ` +
    `sessions without userAgent and ip. To move to ${PRINCIPAL_INDEX}, see docs/dynamodb.md, "Moving to the principal-sessions index".`;
}

/** What a new table gets when the store's options name no layout (bench/RESULTS.md: it never costs more). */
export const LAYOUT_FOR_NEW_TABLES: ItemLayout = 'split';

async function describeTtl(client: DynamoDBClient, tableName: string): Promise<TtlState> {
  const { TimeToLiveDescription: ttl } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  return { status: ttl?.TimeToLiveStatus ?? 'DISABLED', attribute: ttl?.AttributeName };
}

/** What is wrong with a session table's TTL and how to fix it, or undefined when TTL is on expiresAt. */
export function ttlProblem(tableName: string, ttl: TtlState): string | undefined {
  const on = ttl.status === 'ENABLED' || ttl.status === 'ENABLING';
  if (on && ttl.attribute === ATTR.expiresAt) return undefined;
  const fix = `aws dynamodb update-time-to-live --table-name ${tableName} --time-to-live-specification Enabled=true,AttributeName=${ATTR.expiresAt}`;
  if (on) {
    return `TTL is ${ttl.status} on "${ttl.attribute}", not on "${ATTR.expiresAt}", on DynamoDB table "${tableName}": sessions keep their deadline in ` +
      `${ATTR.expiresAt}, so DynamoDB never deletes expired ones. Unless something else needs TTL on "${ttl.attribute}", disable it, then: ${fix}`;
  }
  return `TTL is ${ttl.status} on DynamoDB table "${tableName}": expired sessions are never deleted (reads ignore them, the table keeps growing). ` +
    `Enable it${ttl.status === 'DISABLING' ? ' once DynamoDB has finished disabling it' : ''}: ${fix} (or start the store once with createIfNotExist: true)`;
}

/**
 * Enables TTL on expiresAt when the store may manage the table, otherwise
 * warns. Never fails startup: sessions work without TTL (every read checks
 * expiresAt), only the table grows.
 */
async function checkTtl(client: DynamoDBClient, spec: TableSpec, logger: Logger): Promise<TtlState | undefined> {
  let ttl: TtlState;
  try {
    ttl = await describeTtl(client, spec.tableName);
    if (ttl.status === 'DISABLED' && spec.createIfNotExist) {
      await enableTtl(client, spec.tableName);
      logger.info(`enabled TTL on ${ATTR.expiresAt} for the existing DynamoDB table ${spec.tableName}`);
      return { status: 'ENABLED', attribute: ATTR.expiresAt };
    }
  } catch (e) {
    logger.warn(`could not check or enable TTL on DynamoDB table "${spec.tableName}" (${(e as Error).name}: ${(e as Error).message}); ` +
      `grant dynamodb:DescribeTimeToLive (and UpdateTimeToLive with createIfNotExist), or check it with: npx dynamo-session describe --table ${spec.tableName}`);
    return undefined;
  }
  const problem = ttlProblem(spec.tableName, ttl);
  if (problem) logger.warn(problem);
  return ttl;
}

export function createTableInput(spec: Pick<TableSpec, 'tableName' | 'billing' | 'layout'>): ConstructorParameters<typeof CreateTableCommand>[0] {
  const provisioned = spec.billing.mode === 'PROVISIONED'
    ? { ReadCapacityUnits: spec.billing.readCapacityUnits, WriteCapacityUnits: spec.billing.writeCapacityUnits }
    : undefined;
  const split = (spec.layout ?? LAYOUT_FOR_NEW_TABLES) === 'split';
  return {
    TableName: spec.tableName,
    AttributeDefinitions: [
      { AttributeName: ATTR.key, AttributeType: 'S' },
      ...(split ? [{ AttributeName: ATTR.part, AttributeType: 'S' } as const] : []),
      { AttributeName: ATTR.principal, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: ATTR.key, KeyType: 'HASH' }, ...(split ? [{ AttributeName: ATTR.part, KeyType: 'RANGE' } as const] : [])],
    // Sparse: only sessions (heads) with a principal are indexed, so sessions without one cost no index writes.
    // The split layout projects the part registry too, so "sign out everywhere" deletes the parts without reading them.
    GlobalSecondaryIndexes: [{
      IndexName: PRINCIPAL_INDEX,
      KeySchema: [{ AttributeName: ATTR.principal, KeyType: 'HASH' }],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...PRINCIPAL_INDEX_PROJECTION, ...(split ? [ATTR.parts] : [])] },
      ...(provisioned && { ProvisionedThroughput: provisioned }),
    }],
    ...(provisioned ? { BillingMode: 'PROVISIONED', ProvisionedThroughput: provisioned } : { BillingMode: 'PAY_PER_REQUEST' }),
  };
}

export async function enableTtl(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: ATTR.expiresAt, Enabled: true } }));
  } catch (e) {
    // Already enabled (a concurrent starter won the race): nothing to do.
    if (!/already enabled/i.test((e as Error).message)) throw e;
  }
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (e) {
    if ((e as Error).name === 'ResourceNotFoundException') return undefined;
    throw e;
  }
}

async function waitForActive(client: DynamoDBClient, spec: TableSpec): Promise<void> {
  await waitUntilTableExists({ client, maxWaitTime: spec.readyTimeoutSeconds, minDelay: 1, maxDelay: 5 }, { TableName: spec.tableName });
}

/** The layout a table's key schema says, or a startup error when it is no session table. */
export function layoutOf(table: TableDescription, tableName: string): ItemLayout {
  const keys = table.KeySchema ?? [];
  const typeOf = (name: string): string | undefined => table.AttributeDefinitions?.find((d) => d.AttributeName === name)?.AttributeType;
  const hash = keys.find((k) => k.KeyType === 'HASH');
  const range = keys.find((k) => k.KeyType === 'RANGE');
  if (hash?.AttributeName === ATTR.key && typeOf(ATTR.key) === 'S') {
    if (range === undefined) return 'single';
    if (range.AttributeName === ATTR.part && typeOf(ATTR.part) === 'S') return 'split';
  }
  const found = keys.map((k) => `${k.AttributeName} (${k.KeyType})`).join(', ');
  throw new SessionConfigError([
    `table "${tableName}" has key ${found || 'none'}; a session table needs a string partition key "${ATTR.key}" and either no sort key ` +
      `(layout 'single') or a string sort key "${ATTR.part}" (layout 'split'). Use another tableName or recreate the table.`,
  ]);
}

function layoutMismatch(tableName: string, has: ItemLayout, wanted: ItemLayout): string {
  return `table "${tableName}" has the ${has} layout (${describeLayout(has)}), but this store is configured with layout: '${wanted}'. ` +
    `Set layout: '${has}' (or leave layout out to follow the table), or give a new tableName for the ${wanted} layout: ` +
    `the store creates it, or run: npx dynamo-session create-table --table NAME --layout ${wanted}`;
}

export function describeLayout(layout: ItemLayout): string {
  return layout === 'single' ? `partition key "${ATTR.key}" only: one item per session` : `partition key "${ATTR.key}", sort key "${ATTR.part}": a head item plus one item per large attribute`;
}
