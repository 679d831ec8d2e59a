import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defaultLogger } from '../core/logger';
import { ensureTable } from '../store/dynamodb/table-bootstrap';
import type { CliOutput } from './run-cli';

export async function createTable(client: DynamoDBClient, tableName: string, region: string, capacity: { read: number; write: number } | undefined, out: CliOutput): Promise<void> {
  const billing = capacity
    ? ({ mode: 'PROVISIONED', readCapacityUnits: capacity.read, writeCapacityUnits: capacity.write } as const)
    : ({ mode: 'PAY_PER_REQUEST' } as const);
  await ensureTable(client, { tableName, region, billing, createIfNotExist: true, readyTimeoutSeconds: 300 }, defaultLogger);
  out.log(`table ${tableName} is ACTIVE (${billing.mode}), TTL on expiresAt`);
}
