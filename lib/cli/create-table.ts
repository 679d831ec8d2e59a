import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '../core/logger';
import { ensureTable } from '../store/dynamodb/table-bootstrap';
import { ATTR, ItemLayout } from '../store/dynamodb/item-attributes';
import type { CliOutput } from './cli-output';

/**
 * Creates the table, or on an existing one makes sure TTL is on the expiry attribute: the fix the TTL warnings name.
 * `layout` undefined: split for a new table; an existing table keeps its own (a given layout must match it).
 */
export async function createTable(
  client: DynamoDBClient, tableName: string, capacity: { read: number; write: number } | undefined, layout: ItemLayout | undefined, out: CliOutput,
): Promise<void> {
  const billing = capacity
    ? ({ mode: 'PROVISIONED', readCapacityUnits: capacity.read, writeCapacityUnits: capacity.write } as const)
    : ({ mode: 'PAY_PER_REQUEST' } as const);
  const logger: Logger = { debug() {}, info() {}, warn: (m) => out.error(`warning: ${m}`), error: (m) => out.error(m) };
  const state = await ensureTable(client, { tableName, billing, createIfNotExist: true, readyTimeoutSeconds: 300, layout }, logger);
  if (state.created) {
    out.log(`table ${tableName} is ACTIVE (${billing.mode}, ${state.layout} layout), TTL on ${ATTR.expiresAt}`);
    return;
  }
  const ttl = state.ttl ? `TTL ${state.ttl.status}${state.ttl.attribute ? ` on ${state.ttl.attribute}` : ''}` : 'TTL unknown';
  out.log(`table ${tableName} already exists (ACTIVE, ${state.layout} layout); ${ttl}`);
}
