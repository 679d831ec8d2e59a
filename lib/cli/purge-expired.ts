import { AttributeValue, BatchWriteItemCommand, DynamoDBClient, ScanCommand, WriteRequest } from '@aws-sdk/client-dynamodb';
import { jitteredDelay, sleep } from '../core/backoff';
import { ATTR } from '../store/dynamodb/item-attributes';
import type { CliOutput } from './cli-output';

const BATCH = 25; // BatchWriteItem's limit
const MAX_UNPROCESSED_RETRIES = 10;

/**
 * For tables without TTL: scans page by page for items whose expiry time has
 * passed and deletes them in batches, backing off when DynamoDB returns
 * unprocessed items (throttling). A page's scan is not repeated.
 */
export async function purgeExpired(client: DynamoDBClient, tableName: string, now: () => number, dryRun: boolean, out: CliOutput): Promise<number> {
  let deleted = 0;
  let scanned = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({
      TableName: tableName,
      // The sort key too, for split-layout tables (heads and parts each have their own expiry); absent otherwise.
      ProjectionExpression: '#k, #p',
      FilterExpression: '#e <= :now',
      ExpressionAttributeNames: { '#k': ATTR.key, '#p': ATTR.part, '#e': ATTR.expiresAt },
      ExpressionAttributeValues: { ':now': { N: String(Math.floor(now() / 1000)) } },
      ...(startKey && { ExclusiveStartKey: startKey }),
    }));
    scanned += page.ScannedCount ?? 0;
    const keys = (page.Items ?? []).map((item) => ({
      DeleteRequest: { Key: { [ATTR.key]: item[ATTR.key]!, ...(item[ATTR.part] && { [ATTR.part]: item[ATTR.part] }) } },
    }));
    if (!dryRun) for (let i = 0; i < keys.length; i += BATCH) await deleteBatch(client, tableName, keys.slice(i, i + BATCH));
    deleted += keys.length;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  out.log(`${dryRun ? 'would delete' : 'deleted'} ${deleted} expired items (scanned ${scanned} items)`);
  return deleted;
}

async function deleteBatch(client: DynamoDBClient, tableName: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > MAX_UNPROCESSED_RETRIES) throw new Error(`DynamoDB kept ${pending.length} deletes unprocessed (throttled); run again later`);
    if (attempt > 0) await sleep(jitteredDelay(attempt, 50, 5000));
    const { UnprocessedItems } = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
    pending = UnprocessedItems?.[tableName] ?? [];
  }
}
