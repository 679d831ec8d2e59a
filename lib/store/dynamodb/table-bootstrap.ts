import {
  CreateTableCommand, DescribeTableCommand, DynamoDBClient, TableDescription, UpdateTimeToLiveCommand, waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { SessionConfigError, TableNotFoundError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { ATTR, PRINCIPAL_INDEX } from './item-attributes';
import type { Billing } from './resolve-options';

export interface TableSpec {
  readonly tableName: string;
  readonly region: string;
  readonly billing: Billing;
  readonly createIfNotExist: boolean;
  readonly readyTimeoutSeconds: number;
  /** Rotated tables are dropped whole and need no TTL. Default true. */
  readonly enableTtl?: boolean;
}

/**
 * Makes sure the table exists with the right key, creating it (with TTL on
 * expiresAt) when allowed. Runs at startup only, never on a request.
 * Safe when several instances start at once: another's CreateTable is waited for.
 */
export async function ensureTable(client: DynamoDBClient, spec: TableSpec, logger: Logger): Promise<void> {
  const existing = await describe(client, spec.tableName);
  if (existing) {
    assertKeySchema(existing, spec.tableName);
    if (existing.TableStatus !== 'ACTIVE') await waitForActive(client, spec);
    return;
  }
  if (!spec.createIfNotExist) throw new TableNotFoundError(spec.tableName, spec.region);
  logger.info(`creating DynamoDB table ${spec.tableName} (${spec.billing.mode})`);
  try {
    await client.send(new CreateTableCommand(createTableInput(spec)));
  } catch (e) {
    if ((e as Error).name !== 'ResourceInUseException') throw e; // another instance is creating it
  }
  await waitForActive(client, spec);
  if (spec.enableTtl !== false) await enableTtl(client, spec.tableName);
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
