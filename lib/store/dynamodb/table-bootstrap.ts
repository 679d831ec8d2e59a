import {
  CreateTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, TableDescription, UpdateTimeToLiveCommand, waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { SessionConfigError, TableNotFoundError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { ATTR, PRINCIPAL_INDEX } from './item-attributes';
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
}

/** A table's TTL as DescribeTimeToLive reports it. */
export interface TtlState {
  /** ENABLED, ENABLING, DISABLED or DISABLING. */
  readonly status: string;
  readonly attribute: string | undefined;
}

export interface TableState {
  readonly created: boolean;
  /** Undefined when not checked (rotated tables need no TTL) or when the check failed (then a warning was logged). */
  readonly ttl: TtlState | undefined;
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
    assertKeySchema(existing, spec.tableName);
    if (existing.TableStatus !== 'ACTIVE') await waitForActive(client, spec);
    return { created: false, ttl: spec.enableTtl === false ? undefined : await checkTtl(client, spec, logger) };
  }
  if (!spec.createIfNotExist) throw new TableNotFoundError(spec.tableName, spec.region, { endpoint: spec.endpoint });
  logger.info(`creating DynamoDB table ${spec.tableName} (${spec.billing.mode})`);
  try {
    await client.send(new CreateTableCommand(createTableInput(spec)));
  } catch (e) {
    if ((e as Error).name !== 'ResourceInUseException') throw e; // another instance is creating it
  }
  await waitForActive(client, spec);
  if (spec.enableTtl === false) return { created: true, ttl: undefined };
  await enableTtl(client, spec.tableName);
  return { created: true, ttl: { status: 'ENABLED', attribute: ATTR.expiresAt } };
}

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

export function createTableInput(spec: Pick<TableSpec, 'tableName' | 'billing'>): ConstructorParameters<typeof CreateTableCommand>[0] {
  const provisioned = spec.billing.mode === 'PROVISIONED'
    ? { ReadCapacityUnits: spec.billing.readCapacityUnits, WriteCapacityUnits: spec.billing.writeCapacityUnits }
    : undefined;
  return {
    TableName: spec.tableName,
    AttributeDefinitions: [{ AttributeName: ATTR.key, AttributeType: 'S' }, { AttributeName: ATTR.principal, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: ATTR.key, KeyType: 'HASH' }],
    // Sparse: only sessions with a principal are indexed, so sessions without one cost no index writes.
    GlobalSecondaryIndexes: [{
      IndexName: PRINCIPAL_INDEX,
      KeySchema: [{ AttributeName: ATTR.principal, KeyType: 'HASH' }],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [ATTR.createdAt, ATTR.lastAccessedAt, ATTR.expiresAt] },
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

function assertKeySchema(table: TableDescription, tableName: string): void {
  const keys = table.KeySchema ?? [];
  const type = table.AttributeDefinitions?.find((d) => d.AttributeName === ATTR.key)?.AttributeType;
  const ok = keys.length === 1 && keys[0]!.AttributeName === ATTR.key && keys[0]!.KeyType === 'HASH' && type === 'S';
  if (!ok) {
    const found = keys.map((k) => `${k.AttributeName} (${k.KeyType})`).join(', ');
    throw new SessionConfigError([
      `table "${tableName}" has key ${found || 'none'}; a session table needs exactly a string partition key "${ATTR.key}" and no sort key. Use another tableName or recreate the table.`,
    ]);
  }
}
