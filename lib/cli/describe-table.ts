import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LEGACY_PRINCIPAL_INDEX } from '../store/dynamodb/item-attributes';
import { describeLayout, layoutOf, legacyIndexNote, principalIndexOf, ttlProblem, TtlState } from '../store/dynamodb/table-bootstrap';
import type { CliOutput } from './cli-output';

/** DynamoDB refreshes ItemCount and TableSizeBytes about every six hours: estimates. */
export async function describeTable(client: DynamoDBClient, tableName: string, out: CliOutput): Promise<void> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const { TimeToLiveDescription: found } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const ttl: TtlState = { status: found?.TimeToLiveStatus ?? 'DISABLED', attribute: found?.AttributeName };
  const billing = Table?.BillingModeSummary?.BillingMode ?? (Table?.ProvisionedThroughput?.ReadCapacityUnits ? 'PROVISIONED' : 'PAY_PER_REQUEST');
  let layout: string;
  try {
    const found = layoutOf(Table ?? {}, tableName);
    layout = `${found} (${describeLayout(found)})`;
  } catch (e) {
    layout = `none: ${(e as Error).message.replace(/^[^\n]*\n\s*- /, '')}`; // not a session table: say why, and describe the rest
  }
  const lines = [
    `table: ${tableName}`,
    `status: ${Table?.TableStatus}`,
    `layout: ${layout}`,
    `billing: ${billing}${billing === 'PROVISIONED' ? ` (read ${Table?.ProvisionedThroughput?.ReadCapacityUnits}, write ${Table?.ProvisionedThroughput?.WriteCapacityUnits})` : ''}`,
    `ttl: ${ttl.status}${ttl.attribute ? ` on ${ttl.attribute}` : ''}`,
    `principal index: ${principalIndexOf(Table ?? {}) ?? 'none (findByPrincipal and the account controls need one: see docs/dynamodb.md, "Moving to the principal-sessions index")'}`,
    `items (estimate): ${Table?.ItemCount ?? 0}`,
    `size (estimate): ${Table?.TableSizeBytes ?? 0} bytes`,
  ];
  for (const line of lines) out.log(line);
  const problem = ttlProblem(tableName, ttl);
  if (problem) out.error(`warning: ${problem}`);
  if (principalIndexOf(Table ?? {}) === LEGACY_PRINCIPAL_INDEX) out.error(`note: ${legacyIndexNote(tableName)}`);
}
